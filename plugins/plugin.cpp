// The GStreamer plugin "acoustok": registers every element.
#include <gst/gst.h>

GST_ELEMENT_REGISTER_DECLARE(silencesplit);
#if ACOUSTOK_HAVE_TORCH
GST_ELEMENT_REGISTER_DECLARE(unitvocoder);
#endif

static gboolean plugin_init(GstPlugin* plugin) {
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER(silencesplit, plugin);
#if ACOUSTOK_HAVE_TORCH
  ok |= GST_ELEMENT_REGISTER(unitvocoder, plugin);
#endif
  return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, acoustok,
                  "Speech to acoustic units, motifs and back (wav2vec2 units, BPE motifs, unit HiFi-GAN)",
                  plugin_init, ACOUSTOK_VERSION, "MIT", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
