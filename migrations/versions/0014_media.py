"""Media library; a page's hero image and gallery; a clinic's colours and logo; practitioners

Revision ID: 0014_media
Revises: 0012
Create Date: 2026-12-02 04:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_media'
down_revision = '0013_speed_to_lead'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('media',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('alt', sa.String(length=300), nullable=False),
    sa.Column('decorative', sa.Boolean(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('variants', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_media_clinic_id_clinics'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_media_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media')),
    sa.UniqueConstraint('key', name=op.f('uq_media_key'))
    )
    op.create_index(op.f('ix_media_clinic_id'), 'media', ['clinic_id'], unique=False)
    for table in ('pages', 'page_revisions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('hero_image', sa.String(length=20), server_default='', nullable=False))
            batch_op.add_column(sa.Column('gallery', sa.String(length=400), server_default='', nullable=False))
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('brand_colour', sa.String(length=7), server_default='', nullable=False))
        batch_op.add_column(sa.Column('accent_colour', sa.String(length=7), server_default='', nullable=False))
        batch_op.add_column(sa.Column('logo', sa.String(length=20), server_default='', nullable=False))
    op.create_table('practitioners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=120), nullable=False),
    sa.Column('registration_body', sa.String(length=16), nullable=False),
    sa.Column('registration_number', sa.String(length=32), nullable=False),
    sa.Column('photo', sa.String(length=20), nullable=False),
    sa.Column('bio', sa.String(length=600), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_practitioners_clinic_id_clinics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practitioners'))
    )
    op.create_index(op.f('ix_practitioners_clinic_id'), 'practitioners', ['clinic_id'], unique=False)
    op.create_table('practitioner_locations',
    sa.Column('practitioner_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_practitioner_locations_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['practitioner_id'], ['practitioners.id'], name=op.f('fk_practitioner_locations_practitioner_id_practitioners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('practitioner_id', 'location_id', name=op.f('pk_practitioner_locations'))
    )


def downgrade():
    op.drop_table('practitioner_locations')
    op.drop_index(op.f('ix_practitioners_clinic_id'), table_name='practitioners')
    op.drop_table('practitioners')
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.drop_column('logo')
        batch_op.drop_column('accent_colour')
        batch_op.drop_column('brand_colour')
    for table in ('page_revisions', 'pages'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('gallery')
            batch_op.drop_column('hero_image')
    op.drop_index(op.f('ix_media_clinic_id'), table_name='media')
    op.drop_table('media')
