"""Clinic setup: archiving clinics, locations and treatments; treatment page templates

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('clinics', 'locations', 'treatments'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('archived_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template_digest', sa.String(length=64), nullable=True))

    op.create_table('treatment_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('treatment_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('title', sa.String(length=160), nullable=False),
    sa.Column('heading', sa.String(length=160), nullable=False),
    sa.Column('intro', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('cta_text', sa.String(length=80), nullable=False),
    sa.Column('seo_title', sa.String(length=70), nullable=False),
    sa.Column('seo_description', sa.String(length=200), nullable=False),
    sa.Column('og_title', sa.String(length=160), nullable=False),
    sa.Column('og_description', sa.String(length=300), nullable=False),
    sa.Column('og_image', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['treatment_id'], ['treatments.id'], name=op.f('fk_treatment_templates_treatment_id_treatments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_templates')),
    sa.UniqueConstraint('treatment_id', name=op.f('uq_treatment_templates_treatment_id'))
    )


def downgrade():
    op.drop_table('treatment_templates')
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_column('template_digest')
    for table in ('treatments', 'locations', 'clinics'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('archived_at')
