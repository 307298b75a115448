/* SPDX-License-Identifier: MIT */
/* embed_units: speech to units inside your own program.
 *
 *   embed_units AUDIO_FILE FEATURE_MODEL_DIR KMEANS_FILE [LAYER]
 *
 * Builds the analysis pipeline with gst_parse_launch, pulls the units (one
 * uint16 per 20 ms frame, timestamped on the source timeline) from an
 * appsink, listens for the silencesplit bus messages, and prints one line per
 * segment:
 *
 *   segment 3  12.480-15.020 s  127 units: 17 17 4 88 ...
 */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <stdio.h>

typedef struct {
  guint64 index;
  GstClockTime start, stop;
} Segment;

typedef struct {
  guint16 unit;
  GstClockTime pts;
} Unit;

static void append_units(GstSample* sample, GArray* units) {
  GstBuffer* buf = gst_sample_get_buffer(sample);
  GstMapInfo map;
  if (!gst_buffer_map(buf, &map, GST_MAP_READ)) return;
  const guint16* u = (const guint16*)map.data;
  for (gsize i = 0; i < map.size / sizeof(guint16); ++i) {
    Unit x = {u[i], GST_BUFFER_PTS(buf) + i * 20 * GST_MSECOND};
    g_array_append_val(units, x);
  }
  gst_buffer_unmap(buf, &map);
}

/* Returns FALSE at the end of the stream or on an error (sets *status). */
static gboolean handle_message(GstMessage* msg, GArray* segments, int* status) {
  const GstStructure* s = gst_message_get_structure(msg);
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ELEMENT:
      if (gst_structure_has_name(s, "silencesplit")) {
        Segment seg = {0, 0, 0};
        gst_structure_get_uint64(s, "index", &seg.index);
        gst_structure_get_uint64(s, "start", &seg.start);
        gst_structure_get_uint64(s, "stop", &seg.stop);
        g_array_append_val(segments, seg);
      }
      return TRUE;
    case GST_MESSAGE_ERROR: {
      GError* err = NULL;
      gst_message_parse_error(msg, &err, NULL);
      fprintf(stderr, "embed_units: %s\n", err->message);
      g_error_free(err);
      *status = 1;
      return FALSE;
    }
    case GST_MESSAGE_EOS:
      return FALSE;
    default:
      return TRUE;
  }
}

static void print_segments(const GArray* segments, const GArray* units) {
  for (guint i = 0; i < segments->len; ++i) {
    const Segment* seg = &g_array_index(segments, Segment, i);
    GString* line = g_string_new(NULL);
    guint count = 0;
    for (guint k = 0; k < units->len; ++k) {
      const Unit* u = &g_array_index(units, Unit, k);
      if (u->pts >= seg->start && u->pts < seg->stop) {
        g_string_append_printf(line, " %u", u->unit);
        ++count;
      }
    }
    printf("segment %" G_GUINT64_FORMAT "  %.3f-%.3f s  %u units:%s\n", seg->index,
           (double)seg->start / GST_SECOND, (double)seg->stop / GST_SECOND, count, line->str);
    g_string_free(line, TRUE);
  }
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s AUDIO_FILE FEATURE_MODEL_DIR KMEANS_FILE [LAYER]\n", argv[0]);
    return 2;
  }
  gst_init(&argc, &argv);
  gchar* launch = g_strdup_printf(
      "filesrc location=\"%s\" ! decodebin ! audioconvert ! silencesplit ! "
      "xlsrfeat model=\"%s\" layer=%s ! kmeansunits model=\"%s\" ! application/x-acoustok-units ! "
      "appsink name=units sync=false",
      argv[1], argv[2], argc > 4 ? argv[4] : "14", argv[3]);
  GError* error = NULL;
  GstElement* pipeline = gst_parse_launch(launch, &error);
  g_free(launch);
  if (!pipeline) {
    fprintf(stderr, "embed_units: %s\n", error->message);
    return 1;
  }
  GstAppSink* sink = GST_APP_SINK(gst_bin_get_by_name(GST_BIN(pipeline), "units"));
  GstBus* bus = gst_element_get_bus(pipeline);
  GArray* segments = g_array_new(FALSE, FALSE, sizeof(Segment));
  GArray* units = g_array_new(FALSE, FALSE, sizeof(Unit));
  int status = 0;
  gst_element_set_state(pipeline, GST_STATE_PLAYING);

  gboolean running = TRUE;
  while (running) {
    GstSample* sample = gst_app_sink_try_pull_sample(sink, 20 * GST_MSECOND);
    if (sample) {
      append_units(sample, units);
      gst_sample_unref(sample);
    }
    GstMessage* msg;
    while (running && (msg = gst_bus_pop(bus)) != NULL) {
      running = handle_message(msg, segments, &status);
      gst_message_unref(msg);
    }
  }
  /* Units still queued in the appsink and messages still on the bus. */
  GstSample* sample;
  while ((sample = gst_app_sink_try_pull_sample(sink, 0)) != NULL) {
    append_units(sample, units);
    gst_sample_unref(sample);
  }
  GstMessage* msg;
  while ((msg = gst_bus_pop(bus)) != NULL) {
    handle_message(msg, segments, &status);
    gst_message_unref(msg);
  }
  if (status == 0) print_segments(segments, units);

  gst_element_set_state(pipeline, GST_STATE_NULL);
  g_array_free(segments, TRUE);
  g_array_free(units, TRUE);
  gst_object_unref(sink);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  return status;
}
