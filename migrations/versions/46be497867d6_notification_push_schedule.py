"""notification push schedule: notifications.push_next_at and the sweep's index

Revision ID: 46be497867d6
Revises: df77079632b7
Create Date: 2026-11-25

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '46be497867d6'
down_revision = 'df77079632b7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('push_next_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index('ix_notifications_push_state')
        batch_op.create_index('ix_notifications_push_due', ['push_state', 'push_next_at'], unique=False)
    # Rows still pending from before this revision are due for the sweep at once.
    op.execute("UPDATE notifications SET push_next_at = created_at WHERE push_state = 'pending'")


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_push_due')
        batch_op.create_index('ix_notifications_push_state', ['push_state', 'created_at'], unique=False)
        batch_op.drop_column('push_next_at')
