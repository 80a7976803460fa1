# steady restores values that races lost, through the application's own
# models: in one transaction, each row is read with select_for_update, its
# field checked against the value the plan saw, set to the lost value and
# saved with update_fields (only that column is written), so the
# application's signals and audit trail record the repair. One row that
# no longer holds what the plan saw rolls everything back.
import base64
import json
import traceback

CONFIG = json.loads(base64.b64decode('@CONFIG@').decode())


def last_line(exc):
    text = ''.join(traceback.format_exception_only(type(exc), exc)).strip()
    return text.splitlines()[-1] if text else repr(exc)


class Changed(Exception):
    pass


def run():
    from django.apps import apps
    from django.db import transaction

    model = apps.get_model(CONFIG['model'])

    def field_of(name):
        for f in model._meta.concrete_fields:
            if name in (f.attname, f.column, f.name):
                return f
        raise LookupError(f'{CONFIG["model"]} has no field {name!r}')

    def value(f, v):
        return None if v is None else f.to_python(v)

    done = []
    with transaction.atomic():
        for row in CONFIG['rows']:
            f = field_of(row['field'])
            obj = model._base_manager.select_for_update().get(pk=row['pk'])
            now = f.value_from_object(obj)
            if now != value(f, row['current']):
                raise Changed(f'{CONFIG["model"]} {row["pk"]}: {f.name} is {now!r} now, not {row["current"]!r} '
                              f'as when the plan was made; nothing was restored')
            setattr(obj, f.attname, value(f, row['restore']))
            # django-simple-history keeps this as the history row's reason.
            obj._change_reason = CONFIG['reason']
            obj.save(update_fields=[f.name])
            done.append({'pk': row['pk'], 'field': f.name, 'before': str(now), 'after': str(getattr(obj, f.attname))})
    return done


try:
    result = {'restored': run()}
except Exception as exc:
    result = {'error': last_line(exc)}
print('@BEGIN@' + json.dumps(result) + '@END@')
