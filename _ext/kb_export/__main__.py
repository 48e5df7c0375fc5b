"""Command line of the exporter (any project's needs.json):

    python3 -m kb_export path/to/needs.json -o outdir [--model ubproject.toml]
        [--filter "'x' in tags"] [--tag T] [--stakeholder S] [--phase P] [--base-url URL]
        [--evidence LINK=MARKER] [--no-sbom] [--attach FILE]

with the folder that holds ``kb_export/`` on PYTHONPATH. A bad input is one line on stderr
and exit code 2, and nothing is written."""

from __future__ import annotations

import argparse
import os
import sys
import time

from .bundle import export
from .filter import shorthand
from .needs import ExportError
from .trace import Trace, read


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m kb_export", description="Export a sphinx-needs needs.json to XLSX, CSV, ReqIF, "
        "needs.json and a CycloneDX SBOM, with a manifest and SHA256SUMS.")
    parser.add_argument("needs_json", help="the needs.json sphinx-needs wrote (build_json = true)")
    parser.add_argument("-o", "--output", required=True, help="output directory (replaced as a whole)")
    parser.add_argument("--model", help="the model the needs were built with: the project's ubproject.toml, or "
                        "the knowledge base's interchange/v1/ubproject.toml; it says which links cover a "
                        "requirement and which coverage states there are (without it, none)")
    parser.add_argument("--filter", default="", help="sphinx-needs filter string, e.g. \"'patient-safety' in tags\"")
    parser.add_argument("--tag", action="append", default=[], help="only needs with this tag (repeatable)")
    parser.add_argument("--stakeholder", action="append", default=[], help="only needs addressing this stakeholder")
    parser.add_argument("--phase", action="append", default=[], help="only needs of this life-cycle phase")
    parser.add_argument("--base-url", default=os.environ.get("KB_BASE_URL") or None,
                        help="URL of the published site; IDs link to <base-url><page>.html#<ID> "
                             "(default: $KB_BASE_URL; without it, IDs are not linked)")
    parser.add_argument("--source-dir", help="git work tree the needs.json was built from "
                                             "(default: the directory of needs.json)")
    parser.add_argument("--evidence", action="append", default=[], metavar="LINK=MARKER",
                        help="the evidence marker of a crosswalk mapping link type, e.g. maps_primary=[P] "
                             "(repeatable; default: the N60 model's markers; a mapping link type without "
                             "one is marked with its name)")
    parser.add_argument("--no-sbom", action="store_true", help="do not write sbom.cdx.json")
    parser.add_argument("--attach", action="append", default=[], metavar="FILE",
                        help="a further file the bundle carries as it is, e.g. a device's SBOM and VEX "
                             "(repeatable; listed in the manifest and SHA256SUMS)")
    args = parser.parse_args(argv)
    filter_text = shorthand(args.tag, args.stakeholder, args.phase, args.filter)
    start = time.perf_counter()
    try:
        evidence = {}
        for item in args.evidence:
            link, sep, marker = item.partition("=")
            if not sep or not link.strip() or not marker.strip():
                raise ExportError(f"--evidence {item!r}: give LINK=MARKER, e.g. maps_primary=[P]")
            evidence[link.strip()] = marker.strip()
        trace = read(args.model) if args.model else Trace()
        manifest = export(args.needs_json, args.output, filter_text=filter_text, base_url=args.base_url,
                          source_dir=args.source_dir, sbom=not args.no_sbom, evidence=evidence, trace=trace,
                          attachments=args.attach)
    except ExportError as e:
        print(f"kb_export: error: {e}", file=sys.stderr)
        return 2
    facts = manifest["export"]
    print(f"kb_export: {facts['needs']['exported']} of {facts['needs']['in needs.json']} needs "
          f"(filter: {facts['filter']}) -> {args.output}/ ({len(manifest['files']) + 2} files, "
          f"{time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
