"""URLs of the rota site: only a health check; the work happens in
management commands and Celery jobs."""
from django.db import connection
from django.http import JsonResponse
from django.urls import path


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute('SELECT 1')
    return JsonResponse({'ok': True})


urlpatterns = [
    path('healthz', healthz),
]
