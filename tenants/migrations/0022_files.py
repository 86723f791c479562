from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from tenants.files.models import Purpose

# Uploaded photos and files (tenants/files/): one row per file, isolated by RLS like every tenant table.
POLICY = """
ALTER TABLE stored_file ENABLE ROW LEVEL SECURITY;
ALTER TABLE stored_file FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON stored_file
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0021_repair_shipped_drift')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StoredFile',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(max_length=200)),
                ('thumbnail_key', fields.CharField(max_length=200)),
                ('content_type', fields.CharField(max_length=32)),
                ('thumbnail_type', fields.CharField(max_length=32)),
                ('size', fields.IntField()),
                ('width', fields.IntField()),
                ('height', fields.IntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('name', fields.CharField(default='', max_length=200)),
                ('purpose', fields.CharEnumField(description='TICKET: ticket\nFINDING: finding\nMEETING: meeting\nACTIVITY: activity', enum_type=Purpose, max_length=16)),
                ('uploaded_by', fields.CharField(max_length=128)),
                ('uploaded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('location_kept', fields.BooleanField(default=False)),
                ('attached_kind', fields.CharField(null=True, max_length=16)),
                ('attached_id', fields.BigIntField(null=True)),
                ('attached_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stored_file', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'uploaded_by', 'uploaded_at']), Index(fields=['tenant_id', 'attached_kind', 'attached_id'])], 'pk_attr': 'id', 'table_description': "An uploaded image: its storage keys, sniffed type, size and dimensions, uploader and attachment."},
            bases=['TenantModel'],
        ),
        ops.RunSQL(POLICY, reverse_sql="DROP POLICY tenant_isolation ON stored_file;"
                   " ALTER TABLE stored_file DISABLE ROW LEVEL SECURITY;"),
    ]
