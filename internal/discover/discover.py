# steady's discovery script. `steady init` pipes it into `manage.py shell`,
# so it runs inside the team's project with its settings. It reads Django's
# own metadata (models' _meta, settings.CACHES, the Celery app, the
# migration loader) and calls the project's own code with placeholder
# arguments to learn which query its calculator runs and which cache key
# its key function builds. Only functions named like a worked-shift count
# or a cache key are called. It never connects to the database: every
# query the project's code tries to run is stopped before it reaches a
# cursor; and every cache write is refused.
# It prints one JSON document between two marker lines, so whatever the
# project prints at import time cannot break it.
import datetime
import importlib
import inspect
import json
import os
import pkgutil
import re
import sys
import traceback
from urllib.parse import urlsplit, urlunsplit

BEGIN = '<<<steady-discovery-begin>>>'
END = '<<<steady-discovery-end>>>'

# Placeholders: a clinician id and two days no real data uses, so that
# where they reappear in a query or a key they can be told apart.
SENTINEL_ID = 987654321
SENTINEL_FROM = datetime.date(1901, 2, 3)
SENTINEL_TO = datetime.date(1901, 4, 5)

out = {'version': 1, 'warnings': []}


def warn(msg):
    out['warnings'].append(msg)


def last_line(exc):
    text = ''.join(traceback.format_exception_only(type(exc), exc)).strip()
    return text.splitlines()[-1] if text else repr(exc)


def redact(url):
    """A URL with its password replaced by ***."""
    if not isinstance(url, str) or '://' not in url:
        return url if isinstance(url, str) else ''
    try:
        parts = urlsplit(url)
        if parts.password:
            user = parts.username or ''
            host = parts.hostname or ''
            if parts.port:
                host += ':%d' % parts.port
            return urlunsplit(parts._replace(netloc='%s:***@%s' % (user, host)))
    except ValueError:
        return '(unparsable URL)'
    return url


def run():
    import django
    from django.apps import apps
    from django.conf import settings

    out['django'] = django.get_version()
    out['python'] = '%d.%d' % sys.version_info[:2]
    out['settings'] = os.environ.get('DJANGO_SETTINGS_MODULE', '')
    base = os.path.realpath(str(getattr(settings, 'BASE_DIR', '') or os.getcwd()))
    cwd = os.path.realpath(os.getcwd())

    def own(app_config):
        path = os.path.realpath(app_config.path)
        return path.startswith(base + os.sep) or path.startswith(cwd + os.sep)

    project_apps = [a for a in apps.get_app_configs() if own(a)]
    out['apps'] = [a.label for a in project_apps]
    section('models', lambda: models(apps, project_apps))
    section('migrations', migrations)
    section('cache', lambda: cache(settings))
    section('celery', celery)
    section('code', lambda: code(project_apps))


def section(name, fn):
    try:
        out[name] = fn()
    except Exception as exc:  # one part failing must not lose the others
        warn('%s: %s' % (name, last_line(exc)))


# --- models ---------------------------------------------------------------

def models(apps, project_apps):
    from django.db import connection
    from django.db.models import CheckConstraint, UniqueConstraint

    labels = {a.label for a in project_apps}
    editor = connection.SchemaEditorClass(connection, collect_sql=True)
    result = []
    for m in apps.get_models():
        meta = m._meta
        if meta.proxy or not meta.managed or meta.abstract:
            continue
        d = {
            'label': meta.label, 'app': meta.app_label, 'name': meta.object_name,
            'table': meta.db_table, 'project': meta.app_label in labels,
            'pk': meta.pk.column if meta.pk else '', 'fields': [], 'constraints': [],
            'unique_together': [], 'indexes': [],
        }
        username = getattr(m, 'USERNAME_FIELD', None)
        if isinstance(username, str):
            try:
                d['username'] = meta.get_field(username).column
            except Exception:
                pass
        history = getattr(m, 'instance_type', None)
        if history is not None and hasattr(history, '_meta'):
            d['history_of'] = history._meta.label
        for f in meta.concrete_fields:
            fd = {'name': f.name, 'column': f.column, 'type': f.get_internal_type(),
                  'null': bool(f.null), 'pk': bool(f.primary_key), 'unique': bool(f.unique),
                  'index': bool(f.db_index)}
            if f.choices:
                fd['choices'] = [[str(v), str(label)] for v, label in f.flatchoices]
            if f.is_relation and f.related_model is not None and hasattr(f.related_model, '_meta'):
                rm = f.related_model._meta
                fd['related'] = rm.label
                fd['related_table'] = rm.db_table
                target = getattr(f, 'target_field', None)
                fd['related_column'] = target.column if target is not None else ''
            d['fields'].append(fd)
        for c in meta.constraints:
            try:
                if isinstance(c, CheckConstraint):
                    sql, cols = check_sql(m, c.check, editor, connection)
                    d['constraints'].append({'name': c.name, 'kind': 'check', 'check': sql, 'columns': cols})
                elif isinstance(c, UniqueConstraint):
                    d['constraints'].append({
                        'name': c.name, 'kind': 'unique',
                        'columns': [meta.get_field(n).column for n in c.fields],
                        'conditional': c.condition is not None,
                    })
            except Exception as exc:
                warn('constraint %s of %s: %s' % (getattr(c, 'name', '?'), meta.label, last_line(exc)))
        for names in meta.unique_together:
            d['unique_together'].append([meta.get_field(n).column for n in names])
        for i in meta.indexes:
            try:
                d['indexes'].append({'name': i.name, 'columns': [meta.get_field(n.lstrip('-')).column for n in i.fields]})
            except Exception:
                pass
        result.append(d)
    return result


def check_sql(model, q, editor, connection):
    """The SQL of a CheckConstraint's condition as Django generates it,
    with its parameters inlined, and the columns it reads; no connection."""
    from django.db.models.sql import Query

    query = Query(model=model, alias_cols=False)
    where = query.build_where(q)
    sql, params = where.as_sql(query.get_compiler(connection=connection), connection)
    sql = sql % tuple(editor.quote_value(p) for p in params)
    cols = []

    def walk(node):
        for child in getattr(node, 'children', []):
            if isinstance(child, tuple):
                name = child[0].split('__')[0]
                try:
                    col = model._meta.get_field(name).column
                except Exception:
                    continue
                if col not in cols:
                    cols.append(col)
            else:
                walk(child)
    walk(q)
    return sql, cols


# --- migrations ----------------------------------------------------------

def migrations():
    from django.db import migrations as ops
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    res = {
        'leaves': ['%s.%s' % k for k in sorted(loader.graph.leaf_nodes())],
        'replaces': {'%s.%s' % k: ['%s.%s' % r for r in v.replaces] for k, v in loader.replacements.items()},
        'count': len(loader.disk_migrations),
        'constraints': {},
    }
    # Which migration creates each constraint, in each app's order. A
    # squash stands in for what it replaces only where those are gone.
    replaced = {r for v in loader.replacements.values() for r in v.replaces}
    on_disk = set(loader.disk_migrations)
    origin = {}
    for key in sorted(loader.disk_migrations):
        mig = loader.disk_migrations[key]
        if mig.replaces and all(tuple(r) in on_disk for r in mig.replaces):
            continue
        where = '%s.%s' % key
        app = key[0]
        for op in mig.operations:
            if isinstance(op, ops.AddConstraint):
                origin[(app, op.model_name.lower(), op.constraint.name)] = where
            elif isinstance(op, ops.RemoveConstraint):
                origin.pop((app, op.model_name.lower(), op.name), None)
            elif isinstance(op, ops.CreateModel):
                for c in op.options.get('constraints', []):
                    origin[(app, op.name.lower(), c.name)] = where
                for cols in normalize_together(op.options.get('unique_together')):
                    origin[(app, op.name.lower(), 'unique_together:' + ','.join(cols))] = where
            elif isinstance(op, ops.AlterUniqueTogether):
                for k in [k for k in origin if k[:2] == (app, op.name.lower()) and k[2].startswith('unique_together:')]:
                    if k[2][len('unique_together:'):].split(',') not in [list(c) for c in normalize_together(op.unique_together)]:
                        del origin[k]
                for cols in normalize_together(op.unique_together):
                    k = (app, op.name.lower(), 'unique_together:' + ','.join(cols))
                    origin.setdefault(k, where)
    del replaced
    for (app, model, name), where in origin.items():
        res['constraints']['%s.%s/%s' % (app, model, name)] = where
    return res


def normalize_together(value):
    if not value:
        return []
    value = list(value)
    if value and isinstance(value[0], str):
        value = [value]
    return [tuple(v) for v in value]


# --- cache ---------------------------------------------------------------

def cache(settings):
    caches = getattr(settings, 'CACHES', {}) or {}
    c = caches.get('default') or {}
    location = c.get('LOCATION', '')
    if isinstance(location, (list, tuple)):
        location = location[0] if location else ''
    db = None
    try:
        parts = urlsplit(str(location))
        if parts.path.strip('/').isdigit():
            db = int(parts.path.strip('/'))
        for kv in parts.query.split('&'):
            if kv.startswith('db='):
                db = int(kv[3:])
    except ValueError:
        pass
    options = c.get('OPTIONS') or {}
    if db is None and str(options.get('db', '')).isdigit():
        db = int(options['db'])
    kf = c.get('KEY_FUNCTION')
    return {
        'backend': c.get('BACKEND', ''), 'location': redact(str(location)), 'db': db,
        'key_prefix': c.get('KEY_PREFIX', '') or '', 'version': c.get('VERSION', 1) or 1,
        'key_function': kf if isinstance(kf, str) else (getattr(kf, '__qualname__', 'custom') if kf else None),
    }


# --- Celery --------------------------------------------------------------

def celery():
    try:
        import celery as _celery  # noqa: F401
    except ImportError:
        return {'found': False, 'why': 'celery is not importable here'}
    from celery import current_app
    app = None
    settings_module = os.environ.get('DJANGO_SETTINGS_MODULE', '')
    package = settings_module.rsplit('.', 1)[0] if '.' in settings_module else ''
    for name in ([package + '.celery', package] if package else []):
        try:
            mod = importlib.import_module(name)
        except Exception:
            continue
        for attr in ('app', 'celery_app', 'celery'):
            cand = getattr(mod, attr, None)
            if cand is not None and hasattr(cand, 'tasks') and hasattr(cand, 'conf'):
                app = cand
                break
        if app is not None:
            break
    if app is None:
        app = current_app
    try:
        app.loader.import_default_modules()
    except Exception as exc:
        warn('celery: importing the task modules: %s' % last_line(exc))
    conf = app.conf
    routes = conf.task_routes or {}
    tasks = []
    for name, task in sorted(app.tasks.items()):
        if name.startswith('celery.'):
            continue
        try:
            params = [p.name for p in inspect.signature(task.run).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        except (TypeError, ValueError):
            params = []
        queue = getattr(task, 'queue', None)
        if not queue and isinstance(routes, dict):
            r = routes.get(name)
            if isinstance(r, dict):
                queue = r.get('queue')
        tasks.append({'name': name, 'params': params, 'queue': queue or '',
                      'module': getattr(task.run, '__module__', '')})
    return {
        'found': True, 'main': app.main or '', 'broker': redact(str(conf.broker_url or '')),
        'results': redact(str(conf.result_backend or '')), 'default_queue': conf.task_default_queue or 'celery',
        'tasks': tasks,
    }


# --- the project's own code ----------------------------------------------

class Captured(Exception):
    """Raised instead of running a query; carries the compiler."""

    def __init__(self, compiler):
        super().__init__('query captured')
        self.compiler = compiler


def code(project_apps):
    from django.db.models.sql import compiler as sqlcompiler

    modules = []
    for app in project_apps:
        for name in module_names(app):
            try:
                modules.append(importlib.import_module(name))
            except Exception as exc:
                warn('import %s: %s' % (name, last_line(exc)))
    original = sqlcompiler.SQLCompiler.execute_sql

    def capture(self, *args, **kwargs):
        raise Captured(self)
    sqlcompiler.SQLCompiler.execute_sql = capture
    restore = refuse_cache_writes()
    try:
        return {'calculators': calculators(modules), 'keys': key_functions(modules)}
    finally:
        sqlcompiler.SQLCompiler.execute_sql = original
        restore()


class CacheWriteRefused(Exception):
    pass


def refuse_cache_writes():
    """Make every write method of the default cache's class raise, so the
    project's code called here cannot change the cache; returns the undo."""
    from django.core.cache import caches
    saved = []
    try:
        cls = type(caches['default'])
    except Exception:
        return lambda: None

    def refuse(*args, **kwargs):
        raise CacheWriteRefused('steady discovery does not write the cache')
    for klass in cls.__mro__:
        for name in ('set', 'add', 'delete', 'set_many', 'delete_many', 'clear', 'incr', 'decr', 'touch',
                     'get_or_set', 'delete_pattern', 'expire', 'persist', 'incr_version', 'decr_version'):
            if name in vars(klass):
                saved.append((klass, name, vars(klass)[name]))
                setattr(klass, name, refuse)

    def restore():
        for klass, name, fn in saved:
            setattr(klass, name, fn)
    return restore


SKIP = re.compile(r'\.(migrations|tests?|test_\w*|management|admin|conftest|settings|wsgi|asgi|urls)(\.|$)')


def module_names(app):
    names = [app.name]
    mod = app.module
    if hasattr(mod, '__path__'):
        for info in pkgutil.walk_packages(mod.__path__, prefix=app.name + '.'):
            if not SKIP.search(info.name):
                names.append(info.name)
    return names


def callables(modules, pattern):
    """Functions and methods (of classes constructible without arguments)
    defined in modules whose name matches pattern, with at least three
    parameters: (expression, import, function)."""
    seen = set()
    for mod in modules:
        for name, obj in vars(mod).items():
            if inspect.isfunction(obj) and obj.__module__ == mod.__name__ and pattern.search(name):
                if arity(obj) >= 3 and (mod.__name__, name) not in seen:
                    seen.add((mod.__name__, name))
                    yield '%s.%s' % (mod.__name__, name), mod.__name__, obj
            elif inspect.isclass(obj) and obj.__module__ == mod.__name__:
                try:
                    init = inspect.signature(obj)
                    if any(p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                           for p in init.parameters.values()):
                        continue
                except (TypeError, ValueError):
                    continue
                for mname, meth in vars(obj).items():
                    if inspect.isfunction(meth) and pattern.search(mname) and not mname.startswith('_') \
                            and arity(meth) >= 4 and (mod.__name__, name, mname) not in seen:
                        seen.add((mod.__name__, name, mname))
                        yield '%s.%s().%s' % (mod.__name__, name, mname), mod.__name__, None


def arity(fn):
    try:
        return len([p for p in inspect.signature(fn).parameters.values()
                    if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    except (TypeError, ValueError):
        return 0


def resolve(expr, module):
    mod = importlib.import_module(module)
    return eval(expr, {module.split('.')[0]: importlib.import_module(module.split('.')[0]), '__mod': mod})


def clinician_args():
    """What to pass as the clinician: the id, then an unsaved instance with
    that primary key of every model some dated model points at."""
    from django.apps import apps
    yield 'id', SENTINEL_ID
    seen = set()
    for m in apps.get_models():
        if not any(f.get_internal_type() == 'DateField' for f in m._meta.concrete_fields):
            continue
        for f in m._meta.concrete_fields:
            rm = getattr(f, 'related_model', None)
            if f.is_relation and rm is not None and hasattr(rm, '_meta') and rm._meta.label not in seen:
                seen.add(rm._meta.label)
                try:
                    yield 'model:' + rm._meta.label, rm(pk=SENTINEL_ID)
                except Exception:
                    continue


def calculators(modules):
    found = []
    for expr, module, _ in callables(modules, re.compile(r'worked|count.*(shift|dut)', re.I)):
        entry = {'call': expr, 'import': module}
        try:
            fn = resolve(expr, module)
        except Exception as exc:
            entry['error'] = last_line(exc)
            found.append(entry)
            continue
        for how, arg in clinician_args():
            try:
                fn(arg, SENTINEL_FROM, SENTINEL_TO)
                entry['error'] = 'returned without running a query'
            except Captured as cap:
                entry.pop('error', None)
                entry['clinician'] = how
                entry['query'] = describe_query(cap.compiler)
                break
            except Exception as exc:
                entry['error'] = last_line(exc)
        found.append(entry)
    return found


def key_functions(modules):
    found = []
    for expr, module, fn in callables(modules, re.compile(r'(^|_)key(_|$)', re.I)):
        if fn is None:
            try:
                fn = resolve(expr, module)
            except Exception:
                continue
        for how, arg in clinician_args():
            try:
                key = fn(arg, SENTINEL_FROM, SENTINEL_TO)
            except Exception:
                continue
            if not isinstance(key, str):
                break
            template = key
            for value, ph in ((SENTINEL_FROM.isoformat(), '{from}'), (SENTINEL_TO.isoformat(), '{to}'), (str(SENTINEL_ID), '{clinician}')):
                template = template.replace(value, ph)
            if all(ph in template for ph in ('{clinician}', '{from}', '{to}')):
                found.append({'function': expr, 'template': template, 'clinician': how})
            break
    return found


def describe_query(compiler):
    """What the captured query counts: its table, the columns holding the
    clinician and the day, and for the status and length columns the
    values that pass its conditions — the rule, as the code has it."""
    from django.db.models.lookups import Lookup

    query = compiler.query
    model = query.model
    meta = model._meta
    try:
        sql, params = compiler.as_sql()
        text = sql % tuple(repr(p) for p in params)
    except Exception as exc:
        text = '(not compiled: %s)' % last_line(exc)
    d = {'table': meta.db_table, 'model': meta.label, 'sql': text,
         'aggregate': bool(query.annotations) or text.upper().startswith('SELECT COUNT('),
         'lookups': []}
    lookups = []

    def walk(node, negated):
        neg = negated ^ bool(getattr(node, 'negated', False))
        for child in getattr(node, 'children', []):
            if isinstance(child, Lookup):
                col = getattr(getattr(child.lhs, 'target', None), 'column', None)
                lookups.append((child, col))
            else:
                walk(child, neg)
    walk(query.where, False)
    fields = {f.column: f for f in meta.concrete_fields}
    for lk, col in lookups:
        rhs = lk.rhs
        role = None
        if rhs == SENTINEL_ID or getattr(rhs, 'pk', None) == SENTINEL_ID:
            role = 'clinician'
        elif rhs == SENTINEL_FROM:
            role = 'from'
        elif rhs == SENTINEL_TO:
            role = 'to'
        elif isinstance(rhs, (list, tuple)) and SENTINEL_FROM in rhs and SENTINEL_TO in rhs:
            role = 'range'
        d['lookups'].append({'column': col, 'lookup': lk.lookup_name, 'role': role or '',
                             'value': rhs if isinstance(rhs, (str, int, float)) else str(rhs)})
        if role == 'clinician':
            d['clinician_column'] = col
        elif role in ('from', 'to', 'range'):
            d['date_column'] = col

    def holds(node, env):
        results = []
        for child in getattr(node, 'children', []):
            if isinstance(child, Lookup):
                col = getattr(getattr(child.lhs, 'target', None), 'column', None)
                results.append(test(child, env.get(col, _ANY)))
            else:
                results.append(holds(child, env))
        connector_or = getattr(node, 'connector', 'AND') == 'OR'
        value = any(results) if connector_or else all(results)
        return (not value) if getattr(node, 'negated', False) else value

    # The status: the one column with choices compared with a constant.
    status = None
    for lk, col in lookups:
        f = fields.get(col)
        if f is not None and f.choices and col != d.get('clinician_column'):
            status = f
            break
    if status is not None:
        values = [str(v) for v, _ in status.flatchoices]
        d['status'] = {'column': status.column, 'choices': values,
                       'worked': [v for v in values if holds(query.where, {status.column: v})]}
    # The length: a number compared with zero.
    for lk, col in lookups:
        f = fields.get(col)
        if f is None or f.get_internal_type() not in ('DecimalField', 'FloatField', 'IntegerField', 'PositiveIntegerField',
                                                      'PositiveSmallIntegerField', 'SmallIntegerField', 'BigIntegerField', 'DurationField'):
            continue
        env0 = {col: 0}
        env1 = {col: 1}
        if status is not None and d['status']['worked']:
            env0[status.column] = env1[status.column] = d['status']['worked'][0]
        if holds(query.where, env1) and not holds(query.where, env0):
            d['duration'] = {'column': col, 'positive': True}
            break
    return d


class _Any:
    pass


_ANY = _Any()


def test(lookup, value):
    """A lookup applied to value; True when value is unknown (a column the
    rule does not fix, such as the clinician or the day)."""
    if value is _ANY:
        return True
    rhs = lookup.rhs
    name = lookup.lookup_name
    try:
        if name == 'exact':
            return str(value) == str(rhs) if isinstance(rhs, str) else value == rhs
        if name == 'iexact':
            return str(value).lower() == str(rhs).lower()
        if name == 'in':
            return str(value) in [str(r) for r in rhs]
        if name == 'gt':
            return value > rhs
        if name == 'gte':
            return value >= rhs
        if name == 'lt':
            return value < rhs
        if name == 'lte':
            return value <= rhs
        if name == 'isnull':
            return (value is None) == bool(rhs)
    except TypeError:
        return True
    return True


try:
    run()
except Exception as exc:
    out['error'] = last_line(exc)


def default(o):
    if isinstance(o, (datetime.date, datetime.datetime)):
        return o.isoformat()
    return str(o)


sys.stdout.write('\n' + BEGIN + '\n' + json.dumps(out, default=default) + '\n' + END + '\n')
sys.stdout.flush()
