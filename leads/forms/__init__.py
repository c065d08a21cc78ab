"""WTForms forms, one module per form."""
