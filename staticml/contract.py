"""What a build writes that other parts of staticml read: the names and format versions they
agree on. The build (`staticml.stages`) writes these files; batch scoring, the collector,
rollout and `staticml serve` read them, and import this module rather than a build stage."""

# How far the browser may be from CPython: probabilities absolutely, regression values relatively
# (the build's gate and --verify).
TOLERANCE = 1e-5

# The release's manifest: every asset with its size, hash and encodings, and how to run it.
MANIFEST = "bundle.json"
MANIFEST_FORMAT = 1
# The release's service worker, at the release's root: it caches exactly the release's files.
SERVICE_WORKER = "sw.js"
