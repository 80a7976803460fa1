"""Who is changing things: the actor recorded in AuditLog.changed_by.

Requests, commands and tasks name their actor with `acting_as`; anything
else is recorded as 'system'."""
import contextlib
import contextvars
from datetime import date, datetime
from decimal import Decimal

_actor = contextvars.ContextVar('clinic_actor', default='system')


def current_actor():
    return _actor.get()


@contextlib.contextmanager
def acting_as(name):
    token = _actor.set(name)
    try:
        yield
    finally:
        _actor.reset(token)


def jsonable(value):
    """The audit log stores JSON: dates as ISO strings, decimals as text."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
