from . import controllers
from . import models


def post_init_hook(env):
    # Odoo 17 calls post_init_hook with a single ``env`` (it took ``cr, registry``
    # until 16), as do 18 and 19.
    env["sam.backup.job"]._install_list_view()
