"""`agent.py backup export-key | import-key --key-stdin | restore --from-hub`: the backup key across machines and
this agent's off-site backups on its team hub (crm/offsite.py).

Backups leave the machine encrypted with backup.key, which never leaves it by itself: the user exports it once
(a password manager, paper) and imports it on the new machine before `restore --from-hub`. The hub alone cannot
read them (docs/decisions.md "Off-site backups on the hub").
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from cli.context import Context


def export_key(ctx: Context) -> int:
    """Print the backup key (created now when there is none, so it can be kept before the first backup)."""
    from storage.backup_crypto import key_id, load_or_create_key

    key = load_or_create_key(ctx.data_dir.backup_key_file)
    print(key.hex(), file=ctx.stdout)
    print(ctx.tr._("backup key id {id}: keep this key somewhere safe and private (a password manager); a new machine "
                   "needs it to restore backups (agent.py backup import-key --key-stdin), and anyone holding it can "
                   "read backups copied off this machine").format(id=key_id(key).hex()), file=ctx.stderr)
    return 0


def import_key(ctx: Context, force: bool) -> int:
    """Store a key from stdin as backup.key (0600); a different key already there stays unless --force."""
    from core.secrets_store import write_private_file
    from storage.backup_crypto import KEY_BYTES, BackupCryptoError, key_id, load_key

    text = ctx.stdin.readline().strip().lower()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        print(ctx.tr._("error: expected the {n} hex digits `agent.py backup export-key` printed").format(
            n=KEY_BYTES * 2), file=ctx.stderr)
        return 1
    path = ctx.data_dir.backup_key_file
    try:
        current = load_key(path)
    except BackupCryptoError:
        current = None  # an unreadable key file is replaced
    if current is not None and current != key and not force:
        print(ctx.tr._("error: {path} already holds another key (id {id}); backups made with it need it. Export it "
                       "first, then import with --force").format(path=path, id=key_id(current).hex()),
              file=ctx.stderr)
        return 1
    write_private_file(path, key.hex() + "\n")
    print(ctx.tr._("backup key id {id} saved in {path} (readable only by you)").format(id=key_id(key).hex(),
                                                                                       path=path), file=ctx.stdout)
    return 0


def download_from_hub(ctx: Context) -> Path | None:
    """This agent's newest off-site backup, downloaded into the backups folder and checked; None (said on
    stderr) when that cannot be done."""
    from core.clock import Clock, iso
    from crm.offsite import OffsiteError, download_newest
    from crm.sync import HubClient, SyncError, SyncSettings
    from storage.backup_crypto import BackupCryptoError, load_key
    from storage.migrations import migrate

    data_dir = ctx.data_dir
    settings = SyncSettings.from_config(ctx.config, data_dir)
    if not settings.configured:
        print(ctx.tr._("error: no team hub configured: set sync.hub_url in config.json and the hub token "
                       "(agent.py sync set-token --token-stdin)"), file=ctx.stderr)
        return None
    if not data_dir.database.exists() and ctx.database_url.endswith(str(data_dir.database)):
        # A new machine: an empty database of the current schema to restore into.
        with closing(ctx.open_database()) as db:
            migrate(db, iso(Clock().now()))
    try:
        key = load_key(data_dir.backup_key_file)
        path = download_newest(HubClient(settings), settings, data_dir.backups, key, data_dir.backup_key_file)
    except (OffsiteError, BackupCryptoError, SyncError, OSError) as exc:  # SyncError: the hub stayed unreachable
        print(ctx.tr._("error: restore from the hub refused, the database is unchanged: {error}").format(error=exc),
              file=ctx.stderr)
        return None
    print(ctx.tr._("downloaded {name} from the hub and checked it").format(name=path.name), file=ctx.stdout)
    return path
