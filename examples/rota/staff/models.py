"""The people on the rota. The table and its key column keep the names of
the system this app replaced: staff_people.person_id."""
from django.db import models


class Member(models.Model):
    id = models.BigAutoField(primary_key=True, db_column='person_id')
    full_name = models.CharField(max_length=120)
    email = models.EmailField()
    # Duties owed per calendar month.
    monthly_quota = models.PositiveSmallIntegerField()
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = 'staff_people'

    def __str__(self):
        return self.full_name
