"""Business operations: each owns its transaction, views only call them."""
