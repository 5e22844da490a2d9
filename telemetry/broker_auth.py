"""Who may publish and read on the project's Mosquitto: password file and ACL.

One folder (``MQTT_AUTH_DIR``) holds three files, all written here:

- ``credentials.json``: each username's role (``site`` + its site id, ``consumer``
  or ``simulator``); the source the other two are rendered from;
- ``passwd``: Mosquitto's password file, PBKDF2-SHA512 hashes in Mosquitto 2's own
  ``$7$`` format (written in Python, so no ``mosquitto_passwd`` binary is needed
  where the operator runs the command);
- ``acl``: a site's credentials may write only under ``{prefix}/{site_id}/#``;
  consumers read everything under ``{prefix}/#``; the simulator (it plays every
  site's devices) writes everything under ``{prefix}/#``. Nothing else is allowed.

Mosquitto rereads both files on SIGHUP (``reload_broker``).
"""

import base64
import hashlib
import json
import os
import secrets
import signal
from pathlib import Path

from tier0site.api import IDENTIFIER

ROLES = ("site", "consumer", "simulator")
PBKDF2_ITERATIONS = 101  # Mosquitto 2's own default for $7$ hashes
SALT_BYTES = 12


class CredentialError(ValueError):
    pass


def _paths(auth_dir: Path) -> tuple[Path, Path, Path]:
    return auth_dir / "credentials.json", auth_dir / "passwd", auth_dir / "acl"


def password_hash(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    return f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def credentials_read(auth_dir: Path) -> dict:
    registry = _paths(auth_dir)[0]
    return json.loads(registry.read_text()) if registry.exists() else {}


def acl_render(credentials: dict, *, prefix: str) -> str:
    lines = ["# Written by `manage.py mqtt_credentials`; edit through the command, not by hand.", ""]
    for username, entry in sorted(credentials.items()):
        if entry["role"] == "site":
            topics = [f"topic write {prefix}/{entry['site_id']}/#"]
        elif entry["role"] == "consumer":
            topics = [f"topic read {prefix}/#"]
        else:
            topics = [f"topic write {prefix}/#"]
        lines += [f"user {username}", *topics, ""]
    return "\n".join(lines)


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _save(auth_dir: Path, credentials: dict, hashes: dict, *, prefix: str) -> None:
    registry, passwd, acl = _paths(auth_dir)
    _write_private(registry, json.dumps(credentials, indent=2, sort_keys=True) + "\n")
    _write_private(passwd, "".join(f"{user}:{hashes[user]}\n" for user in sorted(credentials)))
    _write_private(acl, acl_render(credentials, prefix=prefix))


def _hashes_read(auth_dir: Path) -> dict:
    passwd = _paths(auth_dir)[1]
    if not passwd.exists():
        return {}
    return dict(line.split(":", 1) for line in passwd.read_text().splitlines() if ":" in line)


def credential_set(*, auth_dir: Path, username: str, role: str, prefix: str, site_id: str = "", password: str = "") -> str:
    """Create or rotate a credential; returns its password (generated unless given)."""
    if role not in ROLES:
        raise CredentialError(f"role must be one of {', '.join(ROLES)}")
    if not IDENTIFIER.match(username):
        raise CredentialError("username must be 1-64 letters, digits or . _ : -")
    if role == "site" and not IDENTIFIER.match(site_id or ""):
        raise CredentialError("a site credential needs its site id (1-64 letters, digits or . _ : -)")
    if password and len(password) < 16:
        raise CredentialError("a broker password needs at least 16 characters")
    auth_dir.mkdir(parents=True, exist_ok=True)
    password = password or secrets.token_urlsafe(24)
    credentials, hashes = credentials_read(auth_dir), _hashes_read(auth_dir)
    credentials[username] = {"role": role, **({"site_id": site_id} if role == "site" else {})}
    hashes[username] = password_hash(password)
    _save(auth_dir, credentials, hashes, prefix=prefix)
    return password


def credential_revoke(*, auth_dir: Path, username: str, prefix: str) -> bool:
    credentials, hashes = credentials_read(auth_dir), _hashes_read(auth_dir)
    if username not in credentials:
        return False
    credentials.pop(username)
    hashes.pop(username, None)
    _save(auth_dir, credentials, hashes, prefix=prefix)
    return True


def reload_broker(pid_file: Path) -> bool:
    """SIGHUP the running broker so it rereads the password file and ACL; False if none runs."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError):
        return False
    return True
