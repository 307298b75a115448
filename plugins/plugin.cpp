// The GStreamer plugin "acoustok": registers every element.
#include <gst/gst.h>

GST_ELEMENT_REGISTER_DECLARE(silencesplit);
GST_ELEMENT_REGISTER_DECLARE(kmeansunits);

static gboolean plugin_init(GstPlugin* plugin) {
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER(silencesplit, plugin);
  ok |= GST_ELEMENT_REGISTER(kmeansunits, plugin);
  return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, acoustok,
                  "Speech to acoustic units, motifs and back (wav2vec2 units, BPE motifs, unit HiFi-GAN)",
                  plugin_init, ACOUSTOK_VERSION, "MIT", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
