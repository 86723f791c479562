from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from tenants.dual.list_models import ClaimStatus, ItemKind, ItemStatus, WishStatus

# Needs and project lists, claims and micro-wishes 微心愿 (issue 18 part C): row-level security on each table; the
# database holds an item's slots (claims never exceed them), one live claim per claimant and item (a partial unique index: a
# withdrawn or cancelled claim frees its claimant to claim again), ratings 1..5.
TABLES = ("dual_item", "dual_claim", "dual_wish", "dual_wish_event")

POLICY = """
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""

CHECKS = """
ALTER TABLE dual_item ADD CONSTRAINT dual_item_slots
    CHECK (claimed_count >= 0 AND (slots IS NULL OR (slots > 0 AND claimed_count <= slots)));
ALTER TABLE dual_wish ADD CONSTRAINT dual_wish_rating CHECK (rating IS NULL OR rating BETWEEN 1 AND 5);
CREATE UNIQUE INDEX dual_claim_live ON dual_claim (tenant_id, item_id, claimant)
    WHERE status NOT IN ('withdrawn', 'cancelled');
"""
CHECKS_REVERSE = """
DROP INDEX dual_claim_live;
ALTER TABLE dual_wish DROP CONSTRAINT dual_wish_rating;
ALTER TABLE dual_item DROP CONSTRAINT dual_item_slots;
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0031_dual')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DualClaim',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('item_id', fields.BigIntField()),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('claimant', fields.CharField(max_length=40)),
                ('person_id', fields.BigIntField(null=True)),
                ('work_unit_id', fields.BigIntField(null=True)),
                ('claimed_by', fields.CharField(max_length=128)),
                ('status', fields.CharEnumField(default=ClaimStatus.CLAIMED, description='CLAIMED: claimed\nSUBMITTED: submitted\nRETURNED: returned\nACCEPTED: accepted\nWITHDRAWN: withdrawn\nCANCELLED: cancelled', enum_type=ClaimStatus, max_length=10)),
                ('evidence', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('note', fields.TextField(default='', unique=False)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('submitted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decided_by', fields.CharField(null=True, max_length=128)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dual_claim', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'person_id']), Index(fields=['tenant_id', 'work_unit_id']), Index(fields=['tenant_id', 'community_id', 'status'])], 'pk_attr': 'id', 'table_description': "A unit's or member's claim on a need or project, followed to done with evidence."},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='DualItem',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('kind', fields.CharEnumField(description='NEED: need\nPROJECT: project', enum_type=ItemKind, max_length=8)),
                ('title', fields.CharField(max_length=200)),
                ('description', fields.TextField(unique=False)),
                ('slots', fields.IntField(null=True)),
                ('claimed_count', fields.IntField(default=0)),
                ('due_on', fields.DateField(null=True)),
                ('status', fields.CharEnumField(default=ItemStatus.OPEN, description='OPEN: open\nCLOSED: closed', enum_type=ItemStatus, max_length=8)),
                ('created_by', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closed_by', fields.CharField(null=True, max_length=128)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dual_item', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'community_id', 'status']), Index(fields=['tenant_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A need or project a community publishes for units and members to claim.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Wish',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community_id', fields.BigIntField()),
                ('street_id', fields.BigIntField()),
                ('person_id', fields.BigIntField()),
                ('title', fields.CharField(max_length=100)),
                ('description', fields.TextField(unique=False)),
                ('status', fields.CharEnumField(default=WishStatus.POSTED, description='POSTED: posted\nESCALATED: escalated\nCLAIMED: claimed\nOVERDUE: overdue\nFULFILLED: fulfilled\nCONFIRMED: confirmed\nCANCELLED: cancelled', enum_type=WishStatus, max_length=10)),
                ('posted_on', fields.DateField()),
                ('created_by', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('escalated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('claimant', fields.CharField(null=True, max_length=40)),
                ('claimant_person_id', fields.BigIntField(null=True)),
                ('claimant_unit_id', fields.BigIntField(null=True)),
                ('claimed_by', fields.CharField(null=True, max_length=128)),
                ('claimed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('due_on', fields.DateField(null=True)),
                ('reminded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('evidence', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('note', fields.TextField(default='', unique=False)),
                ('fulfilled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('rating', fields.SmallIntField(null=True)),
                ('confirmed_by', fields.CharField(null=True, max_length=128)),
                ('confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cancelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dual_wish', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'community_id', 'status']), Index(fields=['tenant_id', 'person_id']), Index(fields=['tenant_id', 'claimant_person_id']), Index(fields=['tenant_id', 'claimant_unit_id']), Index(fields=['tenant_id', 'status', 'due_on'])], 'pk_attr': 'id', 'table_description': "A resident's micro-wish 微心愿: posted for themselves (or by staff for them), claimed, fulfilled, confirmed."},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='WishEvent',
            fields=[
                ('tenant', fields.ForeignKeyField('civicgrid.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('wish_id', fields.BigIntField()),
                ('action', fields.CharField(max_length=16)),
                ('actor', fields.CharField(max_length=128)),
                ('note', fields.CharField(default='', max_length=500)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dual_wish_event', 'app': 'civicgrid', 'indexes': [Index(fields=['tenant_id', 'wish_id', 'at'])], 'pk_attr': 'id', 'table_description': "One step on a wish's timeline (append-only): posted, claimed, escalated, reminded, overdue, fulfilled,"},
            bases=['TenantModel'],
        ),
        *(
            ops.RunSQL(POLICY.format(table=t), reverse_sql=f"DROP POLICY tenant_isolation ON {t};"
                       f" ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;")
            for t in TABLES
        ),
        ops.RunSQL(CHECKS, reverse_sql=CHECKS_REVERSE),
    ]
