from . import test_sam_backup_job
