from . import sidecar
from . import sam_backup_job
from . import res_config_settings
