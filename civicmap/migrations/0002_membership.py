"""Staff accounts belong to a subdistrict (Membership). Where one subdistrict was loaded, the
office and union staff who worked it are placed in it, so nothing changes for them."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

PLACED_ROLES = ("office_staff", "union_staff")


def place_existing_staff(apps, schema_editor):
    subdistricts = list(apps.get_model("civicmap", "Subdistrict").objects.all()[:2])
    if len(subdistricts) != 1:
        return  # none yet, or several: an administrator places each account
    users = apps.get_model(*settings.AUTH_USER_MODEL.split(".")).objects.filter(
        groups__name__in=PLACED_ROLES).distinct()
    membership = apps.get_model("civicmap", "Membership")
    membership.objects.bulk_create(
        [membership(user=user, subdistrict=subdistricts[0]) for user in users],
        ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('civicmap', '0001_subdistrict_community_and_unit_grids'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Membership',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('subdistrict', models.ForeignKey(blank=True, help_text='Empty: the whole district.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='members', to='civicmap.subdistrict', verbose_name='subdistrict')),
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='membership', to=settings.AUTH_USER_MODEL, verbose_name='user')),
            ],
            options={
                'verbose_name': 'membership',
                'verbose_name_plural': 'memberships',
            },
        ),
        migrations.RunPython(place_existing_staff, migrations.RunPython.noop),
    ]
