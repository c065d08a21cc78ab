"""Extensions, created once here and bound to the app in ``create_app``."""

from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

# Named constraints, so migrations can alter them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()


# Limits live in Redis, so they hold across web processes; if Redis cannot be
# reached the limiter falls back to per-process memory instead of failing.
def _client_key() -> str:
    from leads.security import client_key

    return client_key()


# Keys are keyed hashes of the client address (``security.client_key``): Redis
# never holds an address in clear.
limiter = Limiter(
    key_func=_client_key,
    in_memory_fallback_enabled=True,
    swallow_errors=True,
    key_prefix="limits",
)
