// SPDX-License-Identifier: MIT
// The GStreamer plugin "acoustok": registers its elements. bpemotif lives in
// the separate plugin "acoustokbpe" (plugin_bpe.cpp), so that this one never
// loads SentencePiece (which libacoustok-motifs keeps in a symbol scope of
// its own: both plugins share a pipeline in any order).
#include "config.h"

#include <gst/gst.h>

GST_ELEMENT_REGISTER_DECLARE(silencesplit);
GST_ELEMENT_REGISTER_DECLARE(kmeansunits);
#if HAVE_TORCH
GST_ELEMENT_REGISTER_DECLARE(xlsrfeat);
GST_ELEMENT_REGISTER_DECLARE(unitvocoder);
#endif

static gboolean plugin_init(GstPlugin* plugin) {
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER(silencesplit, plugin);
  ok |= GST_ELEMENT_REGISTER(kmeansunits, plugin);
#if HAVE_TORCH
  ok |= GST_ELEMENT_REGISTER(xlsrfeat, plugin);
  ok |= GST_ELEMENT_REGISTER(unitvocoder, plugin);
#endif
  return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, acoustok,
                  "Speech to acoustic units and back (silence splitting, wav2vec2 units, unit HiFi-GAN)",
                  plugin_init, ACOUSTOK_VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
