from odoo import fields, models

from .sidecar import DEFAULT_COMPONENTS, DEFAULT_MODULES, DEFAULT_URL


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    sam_backup_sidecar_url = fields.Char(
        string="Backup Service URL",
        config_parameter="sam_backup.sidecar_url",
        default=DEFAULT_URL,
        groups="base.group_system",
        help="Where the sam-backup sidecar listens, as seen from the Odoo server "
        "(SAM_SIDECAR_HOST and SAM_SIDECAR_PORT of the sidecar).",
    )
    sam_backup_sidecar_token = fields.Char(
        string="Backup Service Token",
        config_parameter="sam_backup.sidecar_token",
        groups="base.group_system",
        help="The sidecar's SAM_SIDECAR_TOKEN: every request to the sidecar carries it.",
    )
    sam_backup_modules = fields.Char(
        string="Modules to Back Up",
        config_parameter="sam_backup.modules",
        default=DEFAULT_MODULES,
        groups="base.group_system",
        help="Comma-separated technical names of the Odoo modules whose data an export "
        "copies; '*' is a wildcard.",
    )
    sam_backup_components = fields.Char(
        string="Components",
        config_parameter="sam_backup.components",
        default=DEFAULT_COMPONENTS,
        groups="base.group_system",
        help="Comma-separated components an export or restore covers by default: "
        "odoo (Odoo data and filestore), graph (the graph database), vectors (the vector store).",
    )
