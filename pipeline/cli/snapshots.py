"""What was published: ``geomon snapshots``, ``export``, ``serve``, ``report`` and ``verify``."""

from __future__ import annotations

import json
import sys

from pipeline.paths import DataPaths


def add_commands(sub) -> None:
    snaps = sub.add_parser("snapshots", help="list published snapshots")
    snaps.add_argument("--pin", metavar="ID", help="keep this snapshot whatever retention says")
    snaps.add_argument("--unpin", metavar="ID", help="let retention remove this snapshot again")
    snaps.set_defaults(func=_snapshots)
    export = sub.add_parser("export", help="copy a verified snapshot to a folder")
    export.add_argument("--snapshot", help="snapshot id (default: LATEST)")
    export.add_argument("--dest", required=True, help="destination folder")
    export.add_argument("--public", action="store_true",
                        help="copy only the public tables and files (no restricted ones), with public editions of the "
                             "workbook and the report (latest snapshot); the manifest says so")
    export.set_defaults(func=_export)
    serve = sub.add_parser("serve", help="serve the snapshots over HTTP with range requests; restricted files "
                           "only with Authorization: Bearer $GEOMON_SERVE_TOKEN")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; anything else only when you mean it)")
    serve.set_defaults(func=_serve)
    report = sub.add_parser("report", help="write the HTML report of the latest snapshot (data/report/index.html)")
    report.add_argument("--open", action="store_true", help="open it in the default web browser")
    report.set_defaults(func=_report)
    verify = sub.add_parser("verify", help="check a snapshot's files against its manifest")
    verify.add_argument("snapshot", nargs="?", help="snapshot id or an unambiguous start of one (default: LATEST)")
    verify.set_defaults(func=_verify)


def _snapshots(args, paths: DataPaths) -> int:
    from pipeline.publish import SnapshotError, list_snapshots, pinned_snapshots, set_pinned

    try:
        if args.pin:
            set_pinned(paths, args.pin, True)
        if args.unpin:
            set_pinned(paths, args.unpin, False)
    except SnapshotError as exc:
        print(f"geomon snapshots: {exc}", file=sys.stderr)
        return 2
    pinned = set(pinned_snapshots(paths))

    snapshots = list_snapshots(paths)
    if not snapshots:
        print(f"no snapshots in {paths.snapshots}")
        return 0
    # LINKED MB: of MB, the year files shared (hard links) with the previous snapshot, taking no new disk space
    header = ("SNAPSHOT", "FLAGS", "CREATED (UTC)", "DATA", "TABLES", "ROWS", "MB", "LINKED MB", "RESTRICTED FILES")
    lines = [header]
    for snap in snapshots:
        flags = ",".join(f for f, on in (("LATEST", snap["latest"]), ("pinned", snap["snapshot_id"] in pinned)) if on)
        lines.append((snap["snapshot_id"], f"({flags})" if flags else "", str(snap["created_at"]),
                       "SYNTHETIC" if snap["synthetic"] else "real", str(len(snap["tables"])),
                       f"{sum(n or 0 for n in snap['tables'].values()):,}", f"{snap['bytes'] / 1e6:.1f}",
                       f"{snap['linked_bytes'] / 1e6:.1f}", str(snap["restricted"])))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {4, 5, 6, 7, 8}
    for line in lines:
        print("  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(line, widths))).rstrip())
    return 0


def _export(args, paths: DataPaths) -> int:
    from pipeline.publish import SnapshotError, export_snapshot

    try:
        target = export_snapshot(paths, args.snapshot, args.dest, public_only=args.public)
    except SnapshotError as exc:
        print(f"geomon export: {exc}", file=sys.stderr)
        return 2
    print(f"exported and verified{' (public files only)' if args.public else ''}: {target}")
    if args.public:  # what the public editions of the workbook and the report left out, or why there are none
        import json

        access = json.loads((target / "manifest.json").read_text())["access"]
        editions = access.get("public_editions")
        if isinstance(editions, list):
            print(f"public editions (restricted sheets and sections left out): {', '.join(editions)}")
        elif editions:
            print(f"no public workbook or report: {editions.removeprefix('none: ')}")
    return 0


def _serve(args, paths: DataPaths) -> int:
    from pipeline.serve import TOKEN_ENV, make_server, read_token

    if not paths.snapshots.is_dir():
        print(f"geomon serve: no snapshots in {paths.snapshots}; run geomon run first", file=sys.stderr)
        return 2
    token = read_token()  # read now, never logged
    server = make_server(paths.snapshots, args.host, args.port, token=token)
    host, port = server.server_address[:2]
    print(f"serving {paths.snapshots} at http://{host}:{port}/ (byte ranges supported; /latest/ = LATEST); "
          f"restricted files: {'with the bearer token from ' + TOKEN_ENV if token else f'never ({TOKEN_ENV} not set)'}; "
          "Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _report(args, paths: DataPaths) -> int:
    from pipeline.publish import ReportError, SnapshotError, write_latest_report

    try:
        latest = write_latest_report(paths)
    except (SnapshotError, ReportError) as exc:
        print(f"geomon report: {exc}", file=sys.stderr)
        return 2
    result = latest.result
    synthetic = "  *** SYNTHETIC DATA (banner shown) ***" if result.synthetic else ""
    print(f"report of snapshot {result.snapshot_id}: {result.path}  "
          f"({result.bytes / 1e6:.1f} MB, {result.seconds:.1f} s){synthetic}")
    if latest.snapshot_copy:
        same = "same bytes" if latest.matches_snapshot else "differs: written by other code at publication"
        print(f"snapshot's copy: {latest.snapshot_copy}  ({same})")
    if args.open:
        import webbrowser

        if not webbrowser.open(result.path.as_uri()):
            print(f"no web browser found here; open {result.path.as_uri()}", file=sys.stderr)
    return 0


def _verify(args, paths: DataPaths) -> int:
    from pipeline.publish import SnapshotError, snapshot_dir, verify_snapshot

    try:
        folder = snapshot_dir(paths, args.snapshot)
        problems = verify_snapshot(paths, args.snapshot)
    except SnapshotError as exc:
        print(f"geomon verify: {exc}", file=sys.stderr)
        return 2
    if problems:
        print(f"{folder}: {len(problems)} problem(s)")
        for problem in problems:
            print(f"  {problem}")
        return 1
    manifest = json.loads((folder / "manifest.json").read_text())
    print(f"{folder}: OK ({len(manifest['tables'])} tables, checksums and row counts match the manifest)")
    return 0
