from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# A scheduled configuration version can be withdrawn (or replaced) before it takes effect. The row stays, marked;
# the application role may update only the withdrawal columns (tenants/db.py), and this trigger, which binds
# every role, allows exactly one change: marking a version withdrawn, once, at an instant that falls before its
# first day in the tenant's time zone. Deleting a version is refused.
WITHDRAW = """
CREATE FUNCTION civicgrid_config_version_withdraw() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE zone text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'configuration version % cannot be deleted', OLD.version_no;
    END IF;
    IF OLD.withdrawn_at IS NOT NULL THEN
        RAISE EXCEPTION 'configuration version % is withdrawn and cannot change', OLD.version_no;
    END IF;
    IF (NEW.id, NEW.tenant_id, NEW.version_no, NEW.overrides, NEW.effective_from, NEW.author, NEW.comment,
        NEW.created_at) IS DISTINCT FROM
       (OLD.id, OLD.tenant_id, OLD.version_no, OLD.overrides, OLD.effective_from, OLD.author, OLD.comment,
        OLD.created_at)
       OR NEW.withdrawn_at IS NULL OR NEW.withdrawn_by IS NULL OR NEW.withdrawal_reason IS NULL THEN
        RAISE EXCEPTION 'configuration version % is immutable; it can only be withdrawn', OLD.version_no;
    END IF;
    SELECT timezone INTO zone FROM tenant WHERE id = OLD.tenant_id;
    IF zone IS NULL OR OLD.effective_from <= (NEW.withdrawn_at AT TIME ZONE zone)::date THEN
        RAISE EXCEPTION 'configuration version % is in force since %; it can no longer be withdrawn',
            OLD.version_no, OLD.effective_from;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER config_version_withdraw BEFORE UPDATE OR DELETE ON config_version
    FOR EACH ROW EXECUTE FUNCTION civicgrid_config_version_withdraw();
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0015_list_rules_late_scores')]

    initial = False

    operations = [
        ops.AddField(model_name='ConfigVersion', name='withdrawn_at',
                     field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
        ops.AddField(model_name='ConfigVersion', name='withdrawn_by', field=fields.CharField(null=True, max_length=128)),
        ops.AddField(model_name='ConfigVersion', name='withdrawal_reason',
                     field=fields.CharField(null=True, max_length=500)),
        ops.AddField(model_name='ConfigVersion', name='replaced_by', field=fields.IntField(null=True)),
        ops.RunSQL(WITHDRAW, reverse_sql="DROP TRIGGER config_version_withdraw ON config_version;"
                   " DROP FUNCTION civicgrid_config_version_withdraw();"),
    ]
