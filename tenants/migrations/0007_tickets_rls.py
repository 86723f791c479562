from tortoise import migrations
from tortoise.migrations import operations as ops

TABLES = (
    "ticket", "ticket_event", "escalation", "reminder_sent", "efficiency_case", "notification",
    "webhook_endpoint", "webhook_delivery",
)

POLICY = """
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""

# The reminder tick finds due tickets through this index (open tickets only, by deadline), never a scan.
DUE_INDEX = """
CREATE INDEX ticket_open_due ON ticket (tenant_id, due_at)
    WHERE state IN ('reported', 'dispatched', 'transferred', 'accepted', 'reopened');
CREATE INDEX ticket_resolved_due ON ticket (tenant_id, resolved_at) WHERE state = 'resolved';
CREATE INDEX notification_unread ON notification (tenant_id, recipient) WHERE read_at IS NULL;
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0006_tickets')]

    initial = False

    operations = [
        ops.RunSQL(DUE_INDEX, reverse_sql="DROP INDEX ticket_open_due; DROP INDEX ticket_resolved_due;"
                                          " DROP INDEX notification_unread;"),
        *(
            ops.RunSQL(POLICY.format(table=t), reverse_sql=f"DROP POLICY tenant_isolation ON {t};"
                       f" ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;")
            for t in TABLES
        ),
    ]
