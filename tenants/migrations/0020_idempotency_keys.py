from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

# Idempotent creates (tenants/idempotency.py): one row per client key, unique per tenant, isolated by RLS.
POLICY = """
ALTER TABLE idempotency_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_key FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_key
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0018_escalation_runs')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdempotencyKey',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(max_length=128)),
                ('operation', fields.CharField(max_length=64)),
                ('actor', fields.CharField(max_length=128)),
                ('target_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'idempotency_key', 'app': 'civicgrid', 'unique_together': (('tenant_id', 'key'),), 'pk_attr': 'id', 'table_description': 'A create a client named with its idempotency key: the operation, who asked, and the row it made.'},
            bases=['TenantModel'],
        ),
        ops.RunSQL(POLICY, reverse_sql="DROP POLICY tenant_isolation ON idempotency_key;"
                   " ALTER TABLE idempotency_key DISABLE ROW LEVEL SECURITY;"),
    ]
