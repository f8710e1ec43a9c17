"""Small workflow definitions shaped like the real ones, for the Slack edge's tests."""

from __future__ import annotations

import yaml

from workflows.definition import Definition, parse_definition

PROMOTE = """
name: promote
title: Promote a release
category: release
parameters:
  - {name: version, pattern: 'v\\d+\\.\\d+\\.\\d+', help: the release tag}
  - {name: git_sha, pattern: '[0-9a-f]{7,40}'}
  - {name: config_checksum, required: false, pattern: '[0-9a-f]{64}'}
  - {name: environment, choices: [testnet, mainnet]}
steps:
  - {id: gate, title: No promotion freeze, kind: bot, with: {action: require_no_freeze}}
  - id: approve
    title: Two release managers approve
    kind: approval
    approval: {groups: [release-managers], quorum: 2}
  - id: sbom
    title: SBOM checksum recorded
    kind: manual
    responders: [operators]
    inputs: [{name: checksum, label: SBOM checksum, pattern: '[0-9a-f]{64}'}]
    capture: {sbom: inputs.checksum}
  - {id: soak, title: Short soak, kind: wait, with: {duration: 0.05s}}
  - id: done
    title: Announce
    kind: manual
"""

INCIDENT_RELEASE = """
name: incident-release
title: Release incident
category: incident
environment_param: null
parameters:
  - {name: summary, help: what happened}
steps:
  - {id: freeze, title: Freeze promotions, kind: bot, with: {action: freeze}}
  - {id: triage, title: Triage, kind: manual}
"""

INCIDENT_KEY = """
name: incident-key-compromise
title: Key compromise
category: incident
environment_param: null
parameters:
  - {name: summary}
steps:
  - {id: rotate, title: Rotate credentials, kind: manual}
"""

ROLLBACK = """
name: rollback
title: Roll back
category: recovery
parameters:
  - {name: environment, choices: [testnet, mainnet]}
  - {name: reason, required: false}
steps:
  - {id: ok, title: Operators agree, kind: manual}
"""

RESTORE_DRILL = """
name: restore-drill
title: Restore drill
category: drill
environment_param: null
fixed_environment: testnet
steps:
  - {id: restore, title: Restore a snapshot, kind: manual}
"""

MAINTENANCE = """
name: maintenance
title: Maintenance
parameters:
  - {name: environment}
  - {name: reason}
  - {name: window, required: false}
steps:
  - {id: stop, title: Stop nodes, kind: manual}
"""

ALL = (PROMOTE, INCIDENT_RELEASE, INCIDENT_KEY, ROLLBACK, RESTORE_DRILL, MAINTENANCE)


def definition(text: str) -> Definition:
    return parse_definition(yaml.safe_load(text), "test.yaml", text)


def definitions(*texts: str) -> dict[str, Definition]:
    found = [definition(t) for t in (texts or ALL)]
    return {d.name: d for d in found}
