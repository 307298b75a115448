// SPDX-License-Identifier: MIT
// The element base's properties: each subclass property is a field of the
// instance struct (GST_ACOUSTOK_ELEMENT_INSTALL_PROPERTY records its offset in
// the GParamSpec), so one set_property / get_property serves every element.
#include <filesystem>
#include <system_error>

#include "acoustok/error.hpp"
#include "gstacoustokelement_private.hpp"

namespace {

GQuark field_quark() {
  static GQuark quark = g_quark_from_static_string("acoustok-property-field");
  return quark;
}

// Offset of the field that holds `pspec` in the instance; 0 for a property
// the base does not hold.
gsize field_offset(GParamSpec* pspec) {
  return GPOINTER_TO_SIZE(g_param_spec_get_qdata(pspec, field_quark()));
}

// What a field of `pspec`'s value type must be: its size, 0 for a type the
// base does not hold.
gsize field_size(GType type) {
  if (G_TYPE_IS_ENUM(type)) return sizeof(gint);
  switch (G_TYPE_FUNDAMENTAL(type)) {
    case G_TYPE_STRING:
      return sizeof(gchar*);
    case G_TYPE_BOOLEAN:
      return sizeof(gboolean);
    case G_TYPE_INT:
      return sizeof(gint);
    case G_TYPE_UINT:
      return sizeof(guint);
    case G_TYPE_UINT64:
      return sizeof(guint64);
    case G_TYPE_DOUBLE:
      return sizeof(gdouble);
    default:
      return 0;
  }
}

void store(gpointer field, const GValue* value) {
  const GType type = G_VALUE_TYPE(value);
  if (G_TYPE_IS_ENUM(type)) {
    *static_cast<gint*>(field) = g_value_get_enum(value);
    return;
  }
  switch (G_TYPE_FUNDAMENTAL(type)) {
    case G_TYPE_STRING:
      g_free(*static_cast<gchar**>(field));
      *static_cast<gchar**>(field) = g_value_dup_string(value);
      break;
    case G_TYPE_BOOLEAN:
      *static_cast<gboolean*>(field) = g_value_get_boolean(value);
      break;
    case G_TYPE_INT:
      *static_cast<gint*>(field) = g_value_get_int(value);
      break;
    case G_TYPE_UINT:
      *static_cast<guint*>(field) = g_value_get_uint(value);
      break;
    case G_TYPE_UINT64:
      *static_cast<guint64*>(field) = g_value_get_uint64(value);
      break;
    case G_TYPE_DOUBLE:
      *static_cast<gdouble*>(field) = g_value_get_double(value);
      break;
    default:
      break;
  }
}

void load(gconstpointer field, GValue* value) {
  const GType type = G_VALUE_TYPE(value);
  if (G_TYPE_IS_ENUM(type)) {
    g_value_set_enum(value, *static_cast<const gint*>(field));
    return;
  }
  switch (G_TYPE_FUNDAMENTAL(type)) {
    case G_TYPE_STRING:
      g_value_set_string(value, *static_cast<gchar* const*>(field));
      break;
    case G_TYPE_BOOLEAN:
      g_value_set_boolean(value, *static_cast<const gboolean*>(field));
      break;
    case G_TYPE_INT:
      g_value_set_int(value, *static_cast<const gint*>(field));
      break;
    case G_TYPE_UINT:
      g_value_set_uint(value, *static_cast<const guint*>(field));
      break;
    case G_TYPE_UINT64:
      g_value_set_uint64(value, *static_cast<const guint64*>(field));
      break;
    case G_TYPE_DOUBLE:
      g_value_set_double(value, *static_cast<const gdouble*>(field));
      break;
    default:
      break;
  }
}

gpointer field_of(gpointer instance, GParamSpec* pspec) {
  return G_STRUCT_MEMBER_P(instance, field_offset(pspec));
}

// Calls fn(pspec, field) for every property of the instance the base holds.
template <typename Fn>
void for_each_field(gpointer instance, GObjectClass* klass, Fn&& fn) {
  guint n = 0;
  GParamSpec** specs = g_object_class_list_properties(klass, &n);
  for (guint i = 0; i < n; ++i) {
    if (field_offset(specs[i])) fn(specs[i], field_of(instance, specs[i]));
  }
  g_free(specs);
}

// The bytes of a model file, or of the files directly in a model folder.
guint64 model_bytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    const std::uintmax_t bytes = fs::file_size(path, ec);
    return ec ? 0 : bytes;
  }
  guint64 bytes = 0;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    if (entry.is_regular_file(ec)) bytes += entry.file_size(ec);
  }
  return bytes;
}

// The `model` property's value ("" when unset or when the element has none).
std::string model_path_of(GstAcoustokElement* self) {
  GParamSpec* pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(self), "model");
  if (!pspec || !field_offset(pspec)) return "";
  GST_OBJECT_LOCK(self);
  const gchar* value = *static_cast<gchar**>(field_of(self, pspec));
  std::string path = value ? value : "";
  GST_OBJECT_UNLOCK(self);
  return path;
}

}  // namespace

namespace acoustok::gst::detail {

void set_property(GObject* object, guint id, const GValue* value, GParamSpec* pspec) {
  auto* self = GST_ACOUSTOK_ELEMENT(object);
  if (!field_offset(pspec)) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    return;
  }
  if (!gst_acoustok_element_may_set(self, pspec)) return;
  GST_OBJECT_LOCK(self);
  store(field_of(self, pspec), value);
  GST_OBJECT_UNLOCK(self);
}

void get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
  auto* self = GST_ACOUSTOK_ELEMENT(object);
  if (!field_offset(pspec)) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    return;
  }
  GST_OBJECT_LOCK(self);
  load(field_of(self, pspec), value);
  GST_OBJECT_UNLOCK(self);
}

void init_properties(GstAcoustokElement* self, gpointer g_class) {
  for_each_field(self, G_OBJECT_CLASS(g_class), [](GParamSpec* pspec, gpointer field) {
    store(field, g_param_spec_get_default_value(pspec));
  });
}

void free_properties(GstAcoustokElement* self) {
  for_each_field(self, G_OBJECT_GET_CLASS(self), [](GParamSpec* pspec, gpointer field) {
    if (G_TYPE_FUNDAMENTAL(pspec->value_type) == G_TYPE_STRING)
      g_clear_pointer(static_cast<gchar**>(field), g_free);
  });
}

void log_model_loaded(GstAcoustokElement* self, double seconds) {
  if (gst_debug_category_get_threshold(GST_CAT_DEFAULT) < GST_LEVEL_INFO) return;
  const std::string path = model_path_of(self);
  if (path.empty()) return;
  GST_INFO_OBJECT(self, "model %s (%" G_GUINT64_FORMAT " bytes) loaded in %.3f s", path.c_str(),
                  model_bytes(path), seconds);
}

}  // namespace acoustok::gst::detail

void gst_acoustok_element_class_install_property(GstAcoustokElementClass* klass, guint id, GParamSpec* pspec,
                                                 gsize offset, gsize size) {
  g_assert(offset >= sizeof(GstAcoustokElement) && size == field_size(pspec->value_type));
  g_param_spec_set_qdata(pspec, field_quark(), GSIZE_TO_POINTER(offset));
  // GObject does not inherit these two: every class that installs one sets them.
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  gobject_class->set_property = GST_DEBUG_FUNCPTR(acoustok::gst::detail::set_property);
  gobject_class->get_property = GST_DEBUG_FUNCPTR(acoustok::gst::detail::get_property);
  g_object_class_install_property(gobject_class, id, pspec);
}

GParamSpec* gst_acoustok_param_spec_model(const gchar* nick, const gchar* blurb) {
  return g_param_spec_string("model", nick, blurb, nullptr, GST_ACOUSTOK_PARAM_FLAGS);
}

GParamSpec* gst_acoustok_param_spec_device(const gchar* blurb) {
  return g_param_spec_enum("device", "Device", blurb, acoustok::gst::device_get_type(),
                           acoustok::gst::kDeviceAuto, GST_ACOUSTOK_PARAM_FLAGS);
}

std::string gst_acoustok_element_model_path(GstAcoustokElement* self) {
  const std::string path = model_path_of(self);
  if (path.empty()) {
    GParamSpec* pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(self), "model");
    GstElementFactory* factory = gst_element_get_factory(GST_ELEMENT(self));
    const char* name = factory ? GST_OBJECT_NAME(factory) : G_OBJECT_TYPE_NAME(self);
    gchar* what = g_ascii_strdown(pspec ? g_param_spec_get_nick(pspec) : "model", -1);
    const std::string message = std::string(name) + ": no model set (property 'model': the " + what + ")";
    g_free(what);
    throw acoustok::Error(message);
  }
  return path;
}

gboolean gst_acoustok_element_may_set(GstAcoustokElement* self, GParamSpec* pspec) {
  GST_OBJECT_LOCK(self);
  const bool running = GST_STATE(self) > GST_STATE_READY || GST_STATE_PENDING(self) > GST_STATE_READY;
  GST_OBJECT_UNLOCK(self);
  if (running) {
    g_warning("%s: property '%s' can only be set in the NULL or READY state", GST_ELEMENT_NAME(self),
              pspec->name);
    return FALSE;
  }
  return TRUE;
}
