"""One parsed policy per distinct policy document: equal policies share one model and one stored dict.

Every running verification keeps its deployment's policy snapshot; parsed apart, each costs about 10 KB as a
model and 8 KB as a dict, so a fleet's memory grew with its verifications rather than with its policies.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from watchdog.policy.service import EnvironmentPolicy


class _Document(dict[str, Any]):
    """A plain dict (JSON, equality, typing) that a weak reference can point at."""

    __slots__ = ("__weakref__",)


# Weak: an entry lives as long as something holds it (a running verification, a policy set), so memory
# follows the policies in use, and one no longer held is parsed afresh the next time it comes.
_documents: weakref.WeakValueDictionary[bytes, _Document] = weakref.WeakValueDictionary()
_policies: weakref.WeakValueDictionary[bytes, EnvironmentPolicy] = weakref.WeakValueDictionary()
_lock = threading.Lock()  # the policy set is also read from worker threads


def _key(document: Mapping[str, Any]) -> bytes:
    """A 128-bit digest of the canonical JSON: the text itself (kilobytes) would cost more than it saves."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def shared_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The one dict equal to `document` now held anywhere: read-only by contract, as the frozen models."""
    key = _key(document)
    with _lock:
        found = _documents.get(key)
        if found is None:
            found = _documents[key] = _Document(document)
        return found


def shared_policy(document: Mapping[str, Any]) -> EnvironmentPolicy:
    """The parsed policy of `document`, parsed once while any holder keeps it; raises as model_validate.

    Documents that parse to equal policies share one too: the merged layers of a config file and the dumped
    snapshot a deployment stores differ as text but not as policy, and both are held (the policy set, and
    every verification of that environment), so each is filed under its own text and under the dump's.
    """
    key = _key(document)
    with _lock:
        found = _policies.get(key)
    if found is None:
        # Parsed outside the lock (the slow part): two threads may both parse; the first one stored wins.
        parsed = EnvironmentPolicy.model_validate(document)
        canonical = _key(parsed.model_dump(mode="json", by_alias=True))
        with _lock:
            found = _policies.setdefault(canonical, parsed)
            _policies[key] = found
    return found
