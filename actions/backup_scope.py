# steady's migration scope script. The backup action pipes it into
# `manage.py shell` (with TARGETS set above this text) to learn which
# existing tables each pending migration alters, from the migration's own
# operations read against the project state just before it. It never
# connects to the database. It prints one JSON document between two marker
# lines, so whatever the project prints at import time cannot break it.
import json
import traceback

BEGIN = '<<<steady-scope-begin>>>'
END = '<<<steady-scope-end>>>'


def last_line(exc):
    text = ''.join(traceback.format_exception_only(type(exc), exc)).strip()
    return text.splitlines()[-1] if text else repr(exc)


def model_tables(state, app, name):
    """The table of a model in a project state, and the tables Django
    creates for its many-to-many fields."""
    model = state.apps.get_model(app, name)
    tables = [model._meta.db_table]
    for f in model._meta.local_many_to_many:
        through = f.remote_field.through
        if through is not None and through._meta.auto_created:
            tables.append(through._meta.db_table)
    return model, tables


def field_tables(state, app, model_name, field_name):
    """The model's table, and the through table of a many-to-many field."""
    model = state.apps.get_model(app, model_name)
    tables = [model._meta.db_table]
    try:
        f = model._meta.get_field(field_name)
    except Exception:
        return tables
    if getattr(f, 'many_to_many', False) and f.remote_field.through._meta.auto_created:
        tables.append(f.remote_field.through._meta.db_table)
    return tables


def describe(app, op, state):
    """What one operation does to existing tables: (tables, created,
    unknown). tables are the existing tables it alters or drops, created
    the tables it makes new, unknown a reason when Django cannot say."""
    from django.db import migrations as ops

    name = type(op).__name__
    if isinstance(op, ops.CreateModel):
        model = op.name
        return [], ['%s.%s' % (app, model)], None
    if isinstance(op, (ops.DeleteModel, ops.AlterModelTable, ops.RenameModel,
                       ops.AlterUniqueTogether, ops.AlterIndexTogether,
                       ops.AlterOrderWithRespectTo)):
        model_name = op.old_name if isinstance(op, ops.RenameModel) else op.name
        _, tables = model_tables(state, app, model_name)
        return tables, [], None
    if isinstance(op, (ops.AlterModelOptions, ops.AlterModelManagers)):
        return [], [], None  # state only: nothing in the database changes
    if isinstance(op, ops.AddField):
        model = state.apps.get_model(app, op.model_name)
        if getattr(op.field, 'many_to_many', False):
            return [], ['%s.%s.%s' % (app, op.model_name, op.name)], None
        return [model._meta.db_table], [], None
    if isinstance(op, (ops.RemoveField, ops.AlterField, ops.RenameField)):
        field = op.old_name if isinstance(op, ops.RenameField) else op.name
        return field_tables(state, app, op.model_name, field), [], None
    if isinstance(op, (ops.AddIndex, ops.RemoveIndex, ops.AddConstraint, ops.RemoveConstraint)):
        model = state.apps.get_model(app, op.model_name)
        return [model._meta.db_table], [], None
    if isinstance(op, ops.SeparateDatabaseAndState):
        tables, created, unknown = [], [], None
        for inner in op.database_operations:
            t, c, u = describe(app, inner, state)
            tables += t
            created += c
            unknown = unknown or u
        return tables, created, unknown
    if isinstance(op, ops.RunPython):
        if op.code is ops.RunPython.noop:
            return [], [], None
        code = getattr(op.code, '__name__', repr(op.code))
        return [], [], 'RunPython %s: Python code, which may write any table' % code
    if isinstance(op, ops.RunSQL):
        if op.sql in ('', [], (), ops.RunSQL.noop):
            return [], [], None
        return [], [], 'RunSQL: raw SQL, which may write any table'
    # django.contrib.postgres's extension operations act on the database,
    # not on a table's rows.
    if name.endswith('Extension') or name in ('CreateCollation', 'RemoveCollation'):
        return [], [], None
    return [], [], '%s: an operation steady does not know' % name


def run():
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    out = {'migrations': {}}
    for target in TARGETS:  # noqa: F821 (prepended by steady)
        app, _, name = target.partition('.')
        entry = {'tables': [], 'creates': [], 'operations': [], 'unknown': []}
        out['migrations'][target] = entry
        mig = loader.disk_migrations.get((app, name))
        if mig is None:
            entry['unknown'].append('no migration %s on disk' % target)
            continue
        try:
            state = loader.project_state((app, name), at_end=False)
        except Exception as exc:
            entry['unknown'].append('cannot build the state before %s: %s' % (target, last_line(exc)))
            continue
        for op in mig.operations:
            try:
                tables, created, unknown = describe(app, op, state)
            except Exception as exc:
                tables, created, unknown = [], [], '%s: %s' % (type(op).__name__, last_line(exc))
            try:
                op.state_forwards(app, state)
            except Exception as exc:
                entry['unknown'].append('cannot follow %s: %s' % (type(op).__name__, last_line(exc)))
                break
            # A table this migration created is not in the database before
            # it: altering it later in the same migration risks nothing.
            new = []
            for label in created:
                parts = label.split('.')
                try:
                    if len(parts) == 2:
                        new += model_tables(state, parts[0], parts[1])[1]
                    else:
                        new += field_tables(state, parts[0], parts[1], parts[2])[1:]
                except Exception:
                    new.append(label)
            entry['creates'] += [t for t in new if t not in entry['creates']]
            tables = [t for t in tables if t not in entry['creates']]
            entry['operations'].append({
                'op': type(op).__name__,
                'describe': op.describe(),
                'tables': tables,
                'creates': new,
                'unknown': unknown or '',
            })
            for t in tables:
                if t not in entry['tables']:
                    entry['tables'].append(t)
            if unknown:
                entry['unknown'].append(unknown)
    return out


try:
    result = run()
except Exception as exc:
    result = {'error': last_line(exc)}
print(BEGIN)
print(json.dumps(result))
print(END)
