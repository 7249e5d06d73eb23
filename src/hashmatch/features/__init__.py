"""Second-stage matching by local binary features (ORB) with geometric verification.

PDQ sees a whole picture; a crop off-centre, a caption over it, a rotation or
an image pasted into a screenshot moves its hash far away.  Local features
survive those edits: :mod:`.extract` finds ORB keypoints spread over the
image, :mod:`.storage` packs a bank image's features into a few kilobytes,
:mod:`.search` finds bank images sharing many close descriptors, and
:mod:`.verify` accepts one only when enough matches agree on one similarity
transform.  :class:`~.matcher.LocalFeatureMatcher` ties them together.
"""

from hashmatch.features.extract import Features, extract_features
from hashmatch.features.matcher import LocalFeatureMatcher, QueryFeatures
from hashmatch.features.storage import decode_features, encode_features

__all__ = [
    "Features",
    "LocalFeatureMatcher",
    "QueryFeatures",
    "decode_features",
    "encode_features",
    "extract_features",
]
