//! Creating GStreamer elements from settings without panicking: glib-rs panics on an unknown
//! property or an invalid value, so both are checked first and reported as errors.

use std::str::FromStr;

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::encoder::EncoderSettings;
use crate::error::HwaccelError;

/// Makes an element and sets string-valued properties on it.
pub fn make(factory: &str, properties: &[(String, String)]) -> Result<gst::Element, HwaccelError> {
    let element = gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| HwaccelError::MissingElement(factory.to_string()))?;
    for (name, value) in properties {
        set_property(&element, name, value)?;
    }
    Ok(element)
}

/// Sets one property from its string form (enums by nick, structures in GStreamer syntax).
pub fn set_property(element: &gst::Element, name: &str, value: &str) -> Result<(), HwaccelError> {
    let bad = |reason: &str| HwaccelError::BadProperty {
        element: element
            .factory()
            .map(|f| f.name().to_string())
            .unwrap_or_default(),
        property: name.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let pspec = element
        .find_property(name)
        .ok_or_else(|| bad("no such property"))?;
    let flags = pspec.flags();
    if !flags.contains(glib::ParamFlags::WRITABLE)
        || flags.contains(glib::ParamFlags::CONSTRUCT_ONLY)
    {
        return Err(bad("not writable"));
    }
    let parsed = glib::Value::deserialize_with_pspec(value, &pspec)
        .map_err(|_| bad("not a valid value for this property"))?;
    if !pspec.value_is_valid(&parsed) {
        return Err(bad("out of range"));
    }
    element.set_property_from_value(name, &parsed);
    Ok(())
}

pub fn capsfilter(caps: &str) -> Result<gst::Element, HwaccelError> {
    let parsed = gst::Caps::from_str(caps).map_err(|e| HwaccelError::BadCaps {
        caps: caps.to_string(),
        reason: e.to_string(),
    })?;
    gst::ElementFactory::make("capsfilter")
        .property("caps", &parsed)
        .build()
        .map_err(|_| HwaccelError::MissingElement("capsfilter".into()))
}

/// The elements from raw video to encoded H.264, in link order: converter, input caps,
/// encoder, output caps. They are not yet in a bin.
pub fn encoder_chain(settings: &EncoderSettings) -> Result<Vec<gst::Element>, HwaccelError> {
    Ok(vec![
        make(&settings.converter, &[])?,
        capsfilter(&settings.input_format)?,
        make(&settings.element, &settings.properties)?,
        capsfilter(&settings.output_caps)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_properties_are_errors_not_panics() {
        gst::init().expect("gst init");
        let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(make("x264enc", &p("bitrate", "2500")).is_ok());
        let err = make("x264enc", &p("no-such-thing", "1")).expect_err("unknown property");
        assert!(err.to_string().contains("no-such-thing"), "{err}");
        assert!(make("x264enc", &p("speed-preset", "warp-speed")).is_err());
        assert!(make("x264enc", &p("bitrate", "-5")).is_err());
        // x264enc's bitrate range ends at 2048000 kbit/s.
        assert!(make("x264enc", &p("bitrate", "99999999")).is_err());
        assert!(matches!(
            make("h264magicenc", &[]),
            Err(HwaccelError::MissingElement(_))
        ));
        assert!(capsfilter("video/x-h264,profile=(string)high").is_ok());
        assert!(capsfilter("not caps ,,").is_err());
    }
}
