# Copyright 2025 SAM AI
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "SAM AI Backup",
    "summary": "Back up and restore SAM AI (Odoo data, graph, vectors) from the Settings page",
    "version": "1.0.0",
    "category": "Administration",
    "author": "SAM AI",
    "license": "LGPL-3",
    "depends": ["base_setup"],
    "data": [
        "security/ir.model.access.csv",
        "views/sam_backup_job_views.xml",
        "views/res_config_settings_views.xml",
        "data/ir_cron.xml",
    ],
    "assets": {
        "web.assets_backend": ["sam_backup/static/src/**/*"],
    },
    "post_init_hook": "post_init_hook",
    "installable": True,
    "application": False,
}
