"""privacy notices: a page kind with no location, one per clinic

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('kind', sa.String(length=16), nullable=False, server_default='landing')
        )
        batch_op.alter_column('location_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(
            'ix_pages_one_privacy_notice',
            ['clinic_id'],
            unique=True,
            sqlite_where=sa.text("kind = 'privacy'"),
            postgresql_where=sa.text("kind = 'privacy'"),
        )


def downgrade():
    op.execute("DELETE FROM pages WHERE kind = 'privacy'")
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_index('ix_pages_one_privacy_notice')
        batch_op.alter_column('location_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('kind')
