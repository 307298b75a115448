// SPDX-License-Identifier: MIT
// The GStreamer plugin "acoustokbpe": bpemotif, over SentencePiece. Kept
// apart from the "acoustok" plugin so that one never loads SentencePiece
// (see plugin.cpp).
#include "config.h"

#include <gst/gst.h>

GST_ELEMENT_REGISTER_DECLARE(bpemotif);

static gboolean plugin_init(GstPlugin* plugin) { return GST_ELEMENT_REGISTER(bpemotif, plugin); }

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, acoustokbpe,
                  "Recurring unit motifs (SentencePiece BPE over acoustic units)", plugin_init,
                  ACOUSTOK_VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
