// SPDX-License-Identifier: MIT
// The element base's properties, for every acoustok element this build has:
// each starts at its GParamSpec's default, reads back what was set, keeps its
// value when set outside NULL/READY, and a missing `model` fails NULL->READY
// naming the element and the property.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

const char* const kElements[] = {"silencesplit", "xlsrfeat", "kmeansunits", "bpemotif", "unitvocoder"};

std::vector<std::string> available_elements() {
  std::vector<std::string> names;
  for (const char* name : kElements) {
    GstElementFactory* factory = gst_element_factory_find(name);
    if (!factory) continue;
    names.push_back(name);
    gst_object_unref(factory);
  }
  return names;
}

// The element's own properties (not GstObject's name and parent).
std::vector<GParamSpec*> own_properties(GstElement* e) {
  guint n = 0;
  GParamSpec** specs = g_object_class_list_properties(G_OBJECT_GET_CLASS(e), &n);
  std::vector<GParamSpec*> own;
  for (guint i = 0; i < n; ++i) {
    if (g_type_is_a(specs[i]->owner_type, GST_TYPE_ELEMENT) && specs[i]->owner_type != GST_TYPE_ELEMENT &&
        specs[i]->owner_type != GST_TYPE_OBJECT)
      own.push_back(specs[i]);
  }
  g_free(specs);
  return own;
}

// A valid value other than the default: the far end of a range, the other
// boolean or enum value, a path.
void other_value(GParamSpec* p, GValue* v) {
  g_value_init(v, p->value_type);
  if (G_IS_PARAM_SPEC_BOOLEAN(p)) {
    g_value_set_boolean(v, !G_PARAM_SPEC_BOOLEAN(p)->default_value);
  } else if (G_IS_PARAM_SPEC_INT(p)) {
    auto* s = G_PARAM_SPEC_INT(p);
    g_value_set_int(v, s->default_value == s->maximum ? s->minimum : s->maximum);
  } else if (G_IS_PARAM_SPEC_UINT(p)) {
    auto* s = G_PARAM_SPEC_UINT(p);
    g_value_set_uint(v, s->default_value == s->maximum ? s->minimum : s->maximum);
  } else if (G_IS_PARAM_SPEC_UINT64(p)) {
    auto* s = G_PARAM_SPEC_UINT64(p);
    g_value_set_uint64(v, s->default_value == s->maximum ? s->minimum : s->maximum);
  } else if (G_IS_PARAM_SPEC_DOUBLE(p)) {
    auto* s = G_PARAM_SPEC_DOUBLE(p);
    g_value_set_double(v, s->default_value == s->maximum ? s->minimum : s->maximum);
  } else if (G_IS_PARAM_SPEC_ENUM(p)) {
    auto* s = G_PARAM_SPEC_ENUM(p);
    const GEnumClass* k = s->enum_class;
    g_value_set_enum(v, k->values[k->n_values - 1].value == s->default_value
                            ? k->values[0].value
                            : k->values[k->n_values - 1].value);
  } else if (G_IS_PARAM_SPEC_STRING(p)) {
    g_value_set_string(v, "/nonexistent/acoustok-property-test");
  } else {
    ADD_FAILURE() << "unexpected property type of " << p->name;
  }
}

bool equal(GParamSpec* p, const GValue* a, const GValue* b) { return g_param_values_cmp(p, a, b) == 0; }

TEST(GstProperties, DefaultsAndRoundTrip) {
  const auto names = available_elements();
  ASSERT_FALSE(names.empty());
  for (const std::string& name : names) {
    GstElement* e = gst_element_factory_make(name.c_str(), nullptr);
    ASSERT_TRUE(e) << name;
    const auto specs = own_properties(e);
    EXPECT_FALSE(specs.empty()) << name;
    for (GParamSpec* p : specs) {
      GValue got = G_VALUE_INIT, want = G_VALUE_INIT;
      g_value_init(&got, p->value_type);
      g_object_get_property(G_OBJECT(e), p->name, &got);
      EXPECT_TRUE(equal(p, &got, g_param_spec_get_default_value(p)))
          << name << "." << p->name << " starts off default";
      other_value(p, &want);
      EXPECT_FALSE(equal(p, &want, g_param_spec_get_default_value(p))) << name << "." << p->name;
      g_object_set_property(G_OBJECT(e), p->name, &want);
      g_value_reset(&got);
      g_object_get_property(G_OBJECT(e), p->name, &got);
      EXPECT_TRUE(equal(p, &got, &want)) << name << "." << p->name << " does not read back what was set";
      g_value_unset(&got);
      g_value_unset(&want);
    }
    gst_object_unref(e);
  }
}

// Every element has a property per concept, of one type: the same name means
// the same thing.
TEST(GstProperties, SharedNamesAgree) {
  const auto names = available_elements();
  for (const char* shared : {"model", "device", "max-window-time"}) {
    GType type = std::string(shared) == "model" ? G_TYPE_STRING : G_TYPE_INVALID;  // a path
    for (const std::string& name : names) {
      GstElement* e = gst_element_factory_make(name.c_str(), nullptr);
      GParamSpec* p = g_object_class_find_property(G_OBJECT_GET_CLASS(e), shared);
      if (p) {
        if (type == G_TYPE_INVALID) type = p->value_type;
        EXPECT_EQ(p->value_type, type) << name << "." << shared;
      }
      gst_object_unref(e);
    }
  }
}

void drop_log(const gchar*, GLogLevelFlags, const gchar*, gpointer counter) { ++*static_cast<int*>(counter); }

// silencesplit runs without a model: in PAUSED its properties are refused
// (with a warning) and keep their value.
TEST(GstProperties, RefusedOutsideNullAndReady) {
  GstElement* e = gst_element_factory_make("silencesplit", nullptr);
  ASSERT_TRUE(e);
  ASSERT_NE(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  int warnings = 0;
  const GLogFunc old = g_log_set_default_handler(drop_log, &warnings);
  g_object_set(e, "threshold-db", -20.0, nullptr);
  g_log_set_default_handler(old, nullptr);
  gdouble db = 0;
  g_object_get(e, "threshold-db", &db, nullptr);
  EXPECT_DOUBLE_EQ(db, -40.0);
  EXPECT_EQ(warnings, 1);
  gst_element_set_state(e, GST_STATE_NULL);
  g_object_set(e, "threshold-db", -20.0, nullptr);
  g_object_get(e, "threshold-db", &db, nullptr);
  EXPECT_DOUBLE_EQ(db, -20.0);
  gst_object_unref(e);
}

// NULL->READY without `model` fails before anything loads, naming the
// element and the property.
TEST(GstProperties, MissingModelNamesElementAndProperty) {
  for (const std::string& name : available_elements()) {
    GstElement* e = gst_element_factory_make(name.c_str(), nullptr);
    if (!g_object_class_find_property(G_OBJECT_GET_CLASS(e), "model")) {
      gst_object_unref(e);
      continue;
    }
    GstBus* bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    EXPECT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE) << name;
    GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    ASSERT_TRUE(m) << name;
    GError* err = nullptr;
    gst_message_parse_error(m, &err, nullptr);
    const std::string text = err->message;
    EXPECT_EQ(text.rfind(name + ": no model set (property 'model'", 0), 0u) << text;
    g_error_free(err);
    gst_message_unref(m);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_element_set_bus(e, nullptr);
    gst_object_unref(bus);
    gst_object_unref(e);
  }
}

}  // namespace
