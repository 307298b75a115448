# SPDX-License-Identifier: MIT
"""acoustok: speech to discrete acoustic units, and back.

    import acoustok
    units = acoustok.encode("talk.wav", model="xlsr53/", layer=14, kmeans="kmeans.safetensors")

Every call takes and returns NumPy arrays and releases the GIL while it
computes; errors of the library (a missing or corrupt model, a file that
cannot be read) raise acoustok.Error (a RuntimeError), bad arguments
ValueError. See docs/python.md.
"""

from ._acoustok import (  # noqa: F401
    HOP,
    SAMPLE_RATE,
    Error,
    FeatureExtractor,
    KMeans,
    Segment,
    Vocoder,
    __version__,
    available_cpus,
    configure_process,
    feature_frames,
    read_audio,
    resample,
    split_on_silence,
    write_wav,
)

# Shown as acoustok.Error in tracebacks, not as the module that defines it.
Error.__module__ = __name__

__all__ = [
    "Error", "FeatureExtractor", "KMeans", "MotifModel", "Segment", "Vocoder", "available_cpus",
    "configure_process", "encode", "feature_frames", "read_audio", "resample", "split_on_silence",
    "write_wav", "HOP", "SAMPLE_RATE", "__version__",
]


def encode(path, model, kmeans, layer=14, device="auto", precision="fp32"):
    """Units of an audio file: read and converted to 16 kHz mono as the
    command line reads it, features of `layer`, nearest centroids; the ids
    `acoustok features` + `acoustok kmeans predict` give (int32 [frames]).

    model: a feature-model folder or a FeatureExtractor; kmeans: a k-means
    file or a KMeans. Pass the objects to encode many files without loading
    the models again.
    """
    if not isinstance(model, FeatureExtractor):
        model = FeatureExtractor(model, layer=layer, device=device, precision=precision)
    if not isinstance(kmeans, KMeans):
        kmeans = KMeans.load(kmeans)
    return kmeans.predict(model(read_audio(path)))


def __getattr__(name):
    # The motif model lives in its own extension module (libacoustok-motifs,
    # SentencePiece): loaded on first use, so `import acoustok` never loads
    # SentencePiece by itself.
    if name in ("MotifModel", "Motif"):
        try:
            from . import _motifs
        except ImportError as e:
            raise ImportError(f"acoustok.{name}: this acoustok was built without SentencePiece ({e})") from e
        return getattr(_motifs, name)
    raise AttributeError(f"module 'acoustok' has no attribute '{name}'")
