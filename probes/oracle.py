# steady runs the application's own calculator through `manage.py shell`
# for a list of scopes (clinician, first day, last day) and prints each
# figure. It reads only: the calculator runs inside a read-only
# transaction that is rolled back, each statement bounded by a timeout,
# and every cache write is refused.
import base64
import datetime
import importlib
import json
import sys
import traceback

CONFIG = json.loads(base64.b64decode('@CONFIG@').decode())
out = {'figures': []}


def last_line(exc):
    text = ''.join(traceback.format_exception_only(type(exc), exc)).strip()
    return text.splitlines()[-1] if text else repr(exc)


class CacheWriteRefused(Exception):
    pass


def refuse_cache_writes():
    from django.core.cache import caches
    try:
        cls = type(caches['default'])
    except Exception:
        return

    def refuse(*args, **kwargs):
        raise CacheWriteRefused('steady reads only: the calculator tried to write the cache')
    for klass in cls.__mro__:
        for name in ('set', 'add', 'delete', 'set_many', 'delete_many', 'clear', 'incr', 'decr', 'touch',
                     'get_or_set', 'delete_pattern', 'expire', 'persist'):
            if name in vars(klass):
                setattr(klass, name, refuse)


def run():
    from django.apps import apps
    from django.db import connection, transaction

    top = CONFIG['import'].split('.')[0]
    importlib.import_module(CONFIG['import'])
    fn = eval(CONFIG['call'], {top: importlib.import_module(top)})
    model = apps.get_model(CONFIG['model']) if CONFIG['pass'] == 'model' else None
    refuse_cache_writes()
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute('SET TRANSACTION READ ONLY')
            cur.execute('SET LOCAL statement_timeout = %d' % int(CONFIG['statement_timeout_ms']))
        for clinician, first, last in CONFIG['scopes']:
            try:
                with transaction.atomic():
                    arg = model.objects.get(pk=clinician) if model is not None else clinician
                    value = fn(arg, datetime.date.fromisoformat(first), datetime.date.fromisoformat(last))
                    out['figures'].append({'value': int(value)})
            except Exception as exc:
                out['figures'].append({'error': last_line(exc)})
        transaction.set_rollback(True)


try:
    run()
except Exception as exc:
    out['error'] = last_line(exc)
sys.stdout.write('\n@BEGIN@\n' + json.dumps(out) + '\n@END@\n')
sys.stdout.flush()
