"""Any inventory source Ansible reads (scripts, plugins, directories), read by Ansible's own
``ansible-inventory --list``: bounded in time, its errors quoted, its JSON read by
``hosts/ansible_readers.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from ..errors import InventoryError
from .ansible_readers import parse_json_inventory
from .raw import RawInventory

#: seconds ``ansible-inventory`` may take (a dynamic inventory script can hang)
ANSIBLE_INVENTORY_TIMEOUT = 60.0


# -- any source, through ansible-inventory ---------------------------------------------------
def ansible_inventory_command() -> str | None:
    """``ansible-inventory`` on PATH, or next to this Python (a virtualenv not activated)."""
    return shutil.which("ansible-inventory") or shutil.which(
        "ansible-inventory", path=os.path.dirname(sys.executable)
    )


#: how the source reads in messages when Ansible's configured default inventory is used
DEFAULT_INVENTORY = "Ansible's default inventory"


def run_ansible_inventory(source: str, timeout: float = ANSIBLE_INVENTORY_TIMEOUT) -> RawInventory:
    """Read any inventory source Ansible can (scripts, plugins, directories) as Ansible does.

    ``source`` :data:`DEFAULT_INVENTORY`: no ``-i`` (ansible.cfg's ``inventory``,
    ``$ANSIBLE_INVENTORY``, ``/etc/ansible/hosts``), as testinfra's ``ansible://`` without
    ``--ansible-inventory``.
    """
    command = ansible_inventory_command()
    if command is None:
        raise InventoryError(
            "reading this inventory needs ansible-inventory: pip install ansible-core",
            source=source,
        )
    env = {
        **os.environ,
        "ANSIBLE_VERBOSITY": "0",  # testinfra does the same (ansible/ansible#59973)
        # an unparsable source is only a warning to Ansible, and an empty inventory: fail
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    try:
        done = subprocess.run(
            [command, *(() if source == DEFAULT_INVENTORY else ("-i", source)), "--list"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InventoryError(
            f"ansible-inventory did not finish within {timeout:g}s", source=source
        ) from None
    except OSError as exc:
        raise InventoryError(f"cannot run ansible-inventory ({exc})", source=source) from None
    if done.returncode != 0:
        raise InventoryError(
            f"ansible-inventory failed (exit {done.returncode}): {_stderr_tail(done.stderr)}",
            source=source,
        )
    raw = parse_json_inventory(done.stdout, f"{source} (ansible-inventory)")
    raw.source = source
    return raw


def _stderr_tail(stderr: str, limit: int = 1500) -> str:
    text = " ".join(line.strip() for line in stderr.splitlines() if line.strip())
    return text[-limit:] if text else "(no error output)"
