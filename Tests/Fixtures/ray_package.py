"""Ray's own client on a folder: prints the working_dir URI it computes, then the zip's entry names.

Usage: ray_package.py FOLDER [EXCLUDE...]   (run with the project's .venv-ray python)
"""
import sys
import tempfile
import zipfile
from pathlib import Path

from ray._private.ray_constants import get_runtime_env_default_excludes
from ray._private.runtime_env.packaging import create_package, get_uri_for_directory

excludes = get_runtime_env_default_excludes() + sys.argv[2:]
print(get_uri_for_directory(sys.argv[1], True, excludes=excludes))
with tempfile.TemporaryDirectory() as scratch:
    target = Path(scratch) / "pkg.zip"
    create_package(sys.argv[1], target, True, excludes=excludes)
    for name in sorted(zipfile.ZipFile(target).namelist()):
        print(name)
