//! Geospatial commands (geo.c, geohash.c, geohash_helper.c of Redis 7).
//!
//! Layout: a geo set *is* a sorted set (TYPE zset, its records `types::zset`'s): each
//! member's score is Redis's 52-bit geohash of its position, so the zset commands work
//! on geo sets and a set copied member by member (ZADD of the scores) between Redis and
//! Meridian means the same positions:
//!
//! - longitude and latitude are scaled into the ranges [-180, 180] and
//!   [-85.05112878, 85.05112878] (the EPSG:900913 limits; positions outside are refused
//!   with `ERR invalid longitude,latitude pair ...`), each to 26 bits, and interleaved
//!   (latitude in the even bits, longitude in the odd ones);
//! - a score decodes to the centre of its 26-step cell, clamped to the limits above.
//!
//! Searches (GEORADIUS*, GEOSEARCH*) follow Redis step by step: the search step is
//! estimated from the radius (or half diagonal of the box) and the latitude, the cell
//! holding the centre plus its 8 neighbours are computed (useless ones dropped), each
//! cell is one score range `[cell << (52 - 2 step), (cell + 1) << ...)` read in score
//! order, and every point is checked exactly with the haversine distance (Earth radius
//! 6372797.560856 m) or the box test. The trigonometry is the platform libm's, as in
//! Redis, so distances are bit-identical to Redis's on the same platform (glibc); all
//! replicas must therefore run the same libm for STORE/STOREDIST results near a
//! boundary to be identical. COUNT sorts by distance
//! (a stable sort; Redis's partial quicksort may order exactly equal distances
//! differently), ANY stops reading as soon as COUNT matches were found, in cell order.
//!
//! Reply formats are Redis 7's RESP2 ones: distances as bulk strings with 4 decimals
//! (Redis's fixedpoint_d2string, llrint rounding), GEOPOS/WITHCOORD coordinates as
//! bulk strings in Redis's "human" long double format (`%.17Lf`, trailing zeros cut;
//! under RESP3 Redis would send these as doubles of the same text), WITHHASH as an
//! integer, GEOHASH as the 11-character standard geohash (re-encoded over [-90, 90],
//! last character always '0').
//!
//! Costs: GEOADD, GEOPOS, GEODIST, GEOHASH are O(1) records per member; a search reads
//! the members of up to 9 score ranges (O(points in the cells)); the *STORE variants
//! write O(results) records (through `types::zset::store`, replacing the destination
//! and its TTL).

use super::spec;
use super::zset::parse_score;
use crate::args;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, keys, CommandSpec, Exec, KeySpec};
use crate::txn::Txn;
use crate::types::zset::{self, ScoreRange};
use crate::Frame;
use ::keys::Meta;

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let a: &'static [&'static str] = &["geo"];
    let g = "geo";
    let k = keys(1, 1, 1);
    let radius_store = KeySpec {
        first: 1,
        last: 1,
        step: 1,
        find: Some(georadius_key_positions),
    };
    vec![
        spec("geoadd", -5, WRITE | DENYOOM, k, a, g, "3.2.0", "Adds one or more members to a geospatial index. The key is created if it doesn't exist.", E(geoadd)),
        spec("geodist", -4, READONLY, k, a, g, "3.2.0", "Returns the distance between two members of a geospatial index.", E(geodist)),
        spec("geohash", -2, READONLY, k, a, g, "3.2.0", "Returns members from a geospatial index as geohash strings.", E(geohash)),
        spec("geopos", -2, READONLY, k, a, g, "3.2.0", "Returns the longitude and latitude of members from a geospatial index.", E(geopos)),
        spec("georadius", -6, WRITE | DENYOOM | MOVABLE_KEYS, radius_store, a, g, "3.2.0", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.", E(georadius)),
        spec("georadius_ro", -6, READONLY, k, a, g, "3.2.10", "Returns members from a geospatial index that are within a distance from a coordinate.", E(georadius_ro)),
        spec("georadiusbymember", -5, WRITE | DENYOOM | MOVABLE_KEYS, radius_store, a, g, "3.2.0", "Queries a geospatial index for members within a distance from a member, optionally stores the result.", E(georadiusbymember)),
        spec("georadiusbymember_ro", -5, READONLY, k, a, g, "3.2.10", "Returns members from a geospatial index that are within a distance from a member.", E(georadiusbymember_ro)),
        spec("geosearch", -7, READONLY, k, a, g, "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle.", E(geosearch)),
        spec("geosearchstore", -8, WRITE | DENYOOM, keys(1, 2, 1), a, g, "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.", E(geosearchstore)),
    ]
}

/// GEORADIUS / GEORADIUSBYMEMBER: the source key, plus the key after the last STORE or
/// STOREDIST (Redis's georadiusGetKeys, which looks from argument 5 on).
fn georadius_key_positions(argv: &[Vec<u8>]) -> Vec<usize> {
    let mut out = Vec::new();
    if argv.len() > 1 {
        out.push(1);
    }
    let mut stored = None;
    let mut i = 5;
    while i < argv.len() {
        if (args::is(&argv[i], "store") || args::is(&argv[i], "storedist")) && i + 1 < argv.len() {
            stored = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    out.extend(stored);
    out
}

// ---- geohash (geohash.c) --------------------------------------------------------------

const STEP_MAX: u8 = 26;
const LAT_MIN: f64 = -85.05112878;
const LAT_MAX: f64 = 85.05112878;
const LONG_MIN: f64 = -180.0;
const LONG_MAX: f64 = 180.0;

/// Redis's `D_R` (M_PI / 180.0), used by deg_rad / rad_deg.
const D_R: f64 = std::f64::consts::PI / 180.0;
/// Earth's quadratic mean radius for WGS-84, as Redis.
pub(crate) const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct HashBits {
    bits: u64,
    step: u8,
}

impl HashBits {
    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Range {
    min: f64,
    max: f64,
}

impl Range {
    fn is_zero(&self) -> bool {
        self.max == 0.0 && self.min == 0.0
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Area {
    lon: Range,
    lat: Range,
}

const LONG_RANGE: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// Interleaves the low 32 bits of `x` (even bits) and `y` (odd bits).
fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let mut x = xlo as u64;
    let mut y = ylo as u64;
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

/// The inverse of [`interleave64`]: even bits in the low word, odd bits in the high.
fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let mut x = interleaved;
    let mut y = interleaved >> 1;
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// geohashEncode: None outside the limits (or for a degenerate step/range).
fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    if step > 32 || step == 0 || lat_r.is_zero() || lon_r.is_zero() {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let mut lat_offset = (lat - lat_r.min) / (lat_r.max - lat_r.min);
    let mut long_offset = (lon - lon_r.min) / (lon_r.max - lon_r.min);
    lat_offset *= (1u64 << step) as f64;
    long_offset *= (1u64 << step) as f64;
    // C converts the doubles to uint32_t by truncation, as `as` does in range.
    Some(HashBits {
        bits: interleave64(lat_offset as u32, long_offset as u32),
        step,
    })
}

fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    encode(LONG_RANGE, LAT_RANGE, lon, lat, step)
}

/// geohashDecode: the cell a hash stands for.
fn decode(lon_r: Range, lat_r: Range, hash: HashBits) -> Option<Area> {
    if hash.is_zero() || lat_r.is_zero() || lon_r.is_zero() {
        return None;
    }
    let step = hash.step as u32;
    let sep = deinterleave64(hash.bits);
    let lat_scale = lat_r.max - lat_r.min;
    let long_scale = lon_r.max - lon_r.min;
    let ilato = sep as u32;
    let ilono = (sep >> 32) as u32;
    let div = (1u64 << step) as f64;
    Some(Area {
        lat: Range {
            min: lat_r.min + (ilato as f64 * 1.0 / div) * lat_scale,
            max: lat_r.min + (ilato.wrapping_add(1) as f64 * 1.0 / div) * lat_scale,
        },
        lon: Range {
            min: lon_r.min + (ilono as f64 * 1.0 / div) * long_scale,
            max: lon_r.min + (ilono.wrapping_add(1) as f64 * 1.0 / div) * long_scale,
        },
    })
}

/// decodeGeohash: a sorted-set score to [longitude, latitude] (the cell's centre,
/// clamped to the limits).
fn decode_score(score: f64) -> Option<[f64; 2]> {
    let hash = HashBits {
        bits: score as u64,
        step: STEP_MAX,
    };
    let area = decode(LONG_RANGE, LAT_RANGE, hash)?;
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    Some([lon, lat])
}

/// The score GEOADD stores for a position (geohashAlign52Bits of the 26-step hash).
fn score_of_position(lon: f64, lat: f64) -> Option<u64> {
    encode_wgs84(lon, lat, STEP_MAX).map(align52)
}

fn align52(hash: HashBits) -> u64 {
    hash.bits << (52 - hash.step as u32 * 2)
}

fn move_x(hash: &mut HashBits, d: i8) {
    // A zero hash (step 0) has no neighbours; the shifts below need 1 <= step <= 32.
    if d == 0 || hash.step == 0 || hash.step > 32 {
        return;
    }
    let mut x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let y = hash.bits & 0x5555555555555555;
    let shift = 64 - hash.step as u32 * 2;
    let zz = 0x5555555555555555u64 >> shift;
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaaaaaaaaaaaaaau64 >> shift;
    hash.bits = x | y;
}

fn move_y(hash: &mut HashBits, d: i8) {
    // A zero hash (step 0) has no neighbours; the shifts below need 1 <= step <= 32.
    if d == 0 || hash.step == 0 || hash.step > 32 {
        return;
    }
    let x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let mut y = hash.bits & 0x5555555555555555;
    let shift = 64 - hash.step as u32 * 2;
    let zz = 0xaaaaaaaaaaaaaaaau64 >> shift;
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555555555555555u64 >> shift;
    hash.bits = x | y;
}

/// The 8 neighbours of a cell, in Redis's search order after the cell itself:
/// north, south, east, west, north-east, north-west, south-east, south-west.
fn neighbors(hash: HashBits) -> [HashBits; 8] {
    let mv = |dx: i8, dy: i8| {
        let mut h = hash;
        move_x(&mut h, dx);
        move_y(&mut h, dy);
        h
    };
    [
        mv(0, 1),
        mv(0, -1),
        mv(1, 0),
        mv(-1, 0),
        mv(1, 1),
        mv(-1, 1),
        mv(1, -1),
        mv(-1, -1),
    ]
}

// ---- geohash_helper.c -----------------------------------------------------------------

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// geohashEstimateStepsByRadius.
fn estimate_steps_by_radius(range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut range = range_meters;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// Great-circle distance of the latitudes only (same longitude).
fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// geohashGetDistance: the haversine distance in meters.
pub(crate) fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    let lon1r = deg_rad(lon1d);
    let lon2r = deg_rad(lon2d);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1d, lat2d);
    }
    let lat1r = deg_rad(lat1d);
    let lat2r = deg_rad(lat2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

#[derive(Clone, Copy, Debug)]
enum ShapeKind {
    Circle { radius: f64 },
    Rect { width: f64, height: f64 },
}

/// A search area: its centre, size (in `conversion` units) and bounding box.
#[derive(Clone, Copy, Debug)]
struct Shape {
    kind: ShapeKind,
    /// Centre: longitude, latitude.
    xy: [f64; 2],
    /// Meters per unit of the given sizes.
    conversion: f64,
    /// min_lon, min_lat, max_lon, max_lat.
    bounds: [f64; 4],
}

impl Shape {
    /// geohashBoundingBox.
    fn compute_bounds(&mut self) {
        let [longitude, latitude] = self.xy;
        let (h, w) = match self.kind {
            ShapeKind::Circle { radius } => (radius, radius),
            ShapeKind::Rect { width, height } => (height / 2.0, width / 2.0),
        };
        let height = self.conversion * h;
        let width = self.conversion * w;
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude - lat_delta).cos());
        let southern = latitude < 0.0;
        self.bounds[0] = if southern {
            longitude - long_delta_bottom
        } else {
            longitude - long_delta_top
        };
        self.bounds[2] = if southern {
            longitude + long_delta_bottom
        } else {
            longitude + long_delta_top
        };
        self.bounds[1] = latitude - lat_delta;
        self.bounds[3] = latitude + lat_delta;
    }

    /// geoWithinShape: the distance from the centre when `xy` is inside.
    fn contains(&self, xy: [f64; 2]) -> Option<f64> {
        match self.kind {
            ShapeKind::Circle { radius } => {
                let d = distance(self.xy[0], self.xy[1], xy[0], xy[1]);
                (d <= radius * self.conversion).then_some(d)
            }
            ShapeKind::Rect { width, height } => {
                let (width_m, height_m) = (width * self.conversion, height * self.conversion);
                if lat_distance(xy[1], self.xy[1]) > height_m / 2.0 {
                    return None;
                }
                if distance(xy[0], xy[1], self.xy[0], xy[1]) > width_m / 2.0 {
                    return None;
                }
                Some(distance(self.xy[0], self.xy[1], xy[0], xy[1]))
            }
        }
    }
}

/// geohashCalculateAreasByShapeWGS84: the cells to search, centre cell first, in
/// Redis's order; dropped neighbours are zero hashes.
fn areas_by_shape(shape: &mut Shape) -> [HashBits; 9] {
    shape.compute_bounds();
    let [min_lon, min_lat, max_lon, max_lat] = shape.bounds;
    let [longitude, latitude] = shape.xy;
    let radius_meters = match shape.kind {
        ShapeKind::Circle { radius } => radius,
        ShapeKind::Rect { width, height } => {
            ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
        }
    } * shape.conversion;

    let mut steps = estimate_steps_by_radius(radius_meters, latitude);
    let mut hash = encode(LONG_RANGE, LAT_RANGE, longitude, latitude, steps).unwrap_or_default();
    let mut nb = neighbors(hash);
    let mut area = decode(LONG_RANGE, LAT_RANGE, hash).unwrap_or_default();

    let cell = |h: HashBits| decode(LONG_RANGE, LAT_RANGE, h).unwrap_or_default();
    let (north, south, east, west) = (cell(nb[0]), cell(nb[1]), cell(nb[2]), cell(nb[3]));
    let decrease_step = north.lat.max < max_lat
        || south.lat.min > min_lat
        || east.lon.max < max_lon
        || west.lon.min > min_lon;

    if steps > 1 && decrease_step {
        steps -= 1;
        hash = encode(LONG_RANGE, LAT_RANGE, longitude, latitude, steps).unwrap_or_default();
        nb = neighbors(hash);
        area = decode(LONG_RANGE, LAT_RANGE, hash).unwrap_or_default();
    }

    // Indexes into `nb`: 0 N, 1 S, 2 E, 3 W, 4 NE, 5 NW, 6 SE, 7 SW.
    if steps >= 2 {
        let zero = HashBits::default();
        if area.lat.min < min_lat {
            nb[1] = zero;
            nb[7] = zero;
            nb[6] = zero;
        }
        if area.lat.max > max_lat {
            nb[0] = zero;
            nb[4] = zero;
            nb[5] = zero;
        }
        if area.lon.min < min_lon {
            nb[3] = zero;
            nb[7] = zero;
            nb[5] = zero;
        }
        if area.lon.max > max_lon {
            nb[2] = zero;
            nb[6] = zero;
            nb[4] = zero;
        }
    }
    [hash, nb[0], nb[1], nb[2], nb[3], nb[4], nb[5], nb[6], nb[7]]
}

// ---- searching a geo set --------------------------------------------------------------

/// A member found inside the search area.
struct Point {
    member: Vec<u8>,
    score: f64,
    /// Meters from the centre (converted to the unit when replying/storing).
    dist: f64,
    xy: [f64; 2],
}

/// membersOfAllNeighbors: the points of the 9 cells inside `shape`, in cell order then
/// score order. `limit` > 0 (ANY) stops as soon as that many were found. Like Redis, a
/// cell equal to the previously searched one is skipped (huge radii make neighbours
/// coincide).
fn points_in_shape(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    shape: &mut Shape,
    limit: u64,
) -> Result<Vec<Point>, CmdError> {
    let cells = areas_by_shape(shape);
    let shape = *shape;
    let mut found: Vec<Point> = Vec::new();
    let mut last_processed = 0usize;
    for i in 0..cells.len() {
        if cells[i].is_zero() {
            continue;
        }
        if last_processed != 0 && cells[i] == cells[last_processed] {
            continue;
        }
        if !found.is_empty() && limit != 0 && found.len() as u64 >= limit {
            break;
        }
        let min = align52(cells[i]);
        let mut next = cells[i];
        next.bits += 1;
        let max = align52(next);
        let range = ScoreRange {
            min: min as f64,
            minex: false,
            max: max as f64,
            maxex: true,
        };
        zset::visit_score_range(t, key, meta, &range, &mut |member, score| {
            if let Some(xy) = decode_score(score) {
                if let Some(dist) = shape.contains(xy) {
                    found.push(Point {
                        member: member.to_vec(),
                        score,
                        dist,
                        xy,
                    });
                }
            }
            !(!found.is_empty() && limit != 0 && found.len() as u64 >= limit)
        })?;
        last_processed = i;
    }
    Ok(found)
}

// ---- argument helpers -----------------------------------------------------------------

/// getDoubleFromObjectOrReply: `msg` replaces the default error text.
fn double_arg(arg: &[u8], msg: Option<&str>) -> Result<f64, CmdError> {
    parse_score(arg).ok_or_else(|| match msg {
        Some(m) => CmdError::new(format!("ERR {m}")),
        None => CmdError::not_float(),
    })
}

/// extractLongLatOrReply: longitude then latitude, inside the limits.
fn lon_lat_args(lon: &[u8], lat: &[u8]) -> Result<[f64; 2], CmdError> {
    let x = double_arg(lon, None)?;
    let y = double_arg(lat, None)?;
    if !(LONG_MIN..=LONG_MAX).contains(&x) || !(LAT_MIN..=LAT_MAX).contains(&y) {
        return Err(CmdError::new(format!(
            "ERR invalid longitude,latitude pair {x:.6},{y:.6}"
        )));
    }
    Ok([x, y])
}

/// extractUnitOrReply: meters per unit.
fn unit_arg(arg: &[u8]) -> Result<f64, CmdError> {
    if args::is(arg, "m") {
        Ok(1.0)
    } else if args::is(arg, "km") {
        Ok(1000.0)
    } else if args::is(arg, "ft") {
        Ok(0.3048)
    } else if args::is(arg, "mi") {
        Ok(1609.34)
    } else {
        Err(CmdError::new(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ))
    }
}

/// extractDistanceOrReply: `<radius> <unit>` as (radius, meters per unit).
fn distance_args(radius: &[u8], unit: &[u8]) -> Result<(f64, f64), CmdError> {
    let d = double_arg(radius, Some("need numeric radius"))?;
    if d < 0.0 {
        return Err(CmdError::new("ERR radius cannot be negative"));
    }
    Ok((d, unit_arg(unit)?))
}

/// extractBoxOrReply: `<width> <height> <unit>` as (width, height, meters per unit).
fn box_args(w: &[u8], h: &[u8], unit: &[u8]) -> Result<(f64, f64, f64), CmdError> {
    let w = double_arg(w, Some("need numeric width"))?;
    let h = double_arg(h, Some("need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::new("ERR height or width cannot be negative"));
    }
    Ok((w, h, unit_arg(unit)?))
}

/// The position of a member of the geo set, or Redis's decode error.
fn member_position(t: &Txn, key: &[u8], meta: &Meta, member: &[u8]) -> Result<[f64; 2], CmdError> {
    zset::score(t, key, meta, member)?
        .and_then(decode_score)
        .ok_or_else(|| CmdError::new("ERR could not decode requested zset member"))
}

// ---- reply formatting -----------------------------------------------------------------

/// Redis's fixedpoint_d2string(d, 4): llrint(d * 10^4) written with 4 decimals.
pub(crate) fn format_distance(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".to_string();
    }
    let scaled = (d * 10000.0).round_ties_even() as i64;
    let sign = if scaled < 0 { "-" } else { "" };
    let v = scaled.unsigned_abs();
    format!("{sign}{}.{:04}", v / 10000, v % 10000)
}

/// Redis's human long double format (ld2string LD_STR_HUMAN): `%.17Lf` of the value,
/// trailing zeros and a trailing dot removed, "-0" written "0".
pub(crate) fn format_human(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

/// RESP3 doubles with Redis's text (a bulk string in RESP2), as redis-server 7.0.
fn coords_reply(xy: [f64; 2]) -> Frame {
    Frame::Array(vec![
        Frame::DoubleText(format_human(xy[0])),
        Frame::DoubleText(format_human(xy[1])),
    ])
}

// ---- GEOADD ---------------------------------------------------------------------------

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]: every position is checked
/// and turned into its score first, then the members are added as ZADD adds them (Redis
/// calls ZADD with the scores; the options it passes on are these three).
fn geoadd(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut longidx = 2;
    while longidx < argv.len() {
        let opt = &argv[longidx];
        if args::is(opt, "nx") {
            nx = true;
        } else if args::is(opt, "xx") {
            xx = true;
        } else if args::is(opt, "ch") {
            ch = true;
        } else {
            break;
        }
        longidx += 1;
    }
    // As ZADD: no triple at all is a syntax error too.
    if longidx == argv.len() || !(argv.len() - longidx).is_multiple_of(3) || (xx && nx) {
        return Err(CmdError::syntax());
    }
    let mut points = Vec::with_capacity((argv.len() - longidx) / 3);
    for triple in argv[longidx..].chunks(3) {
        let [x, y] = lon_lat_args(&triple[0], &triple[1])?;
        let bits = score_of_position(x, y).unwrap_or(0);
        points.push((bits as f64, &triple[2]));
    }
    let key = &argv[1];
    let mut meta = match zset::open(t, key)? {
        Some(m) => m,
        None if xx => return Ok(Frame::Integer(0)),
        None => zset::create(t),
    };
    let (mut added, mut updated) = (0i64, 0i64);
    for (score, member) in points {
        match zset::score(t, key, &meta, member)? {
            Some(_) if nx => {}
            Some(cur) => {
                if score != cur {
                    zset::put(t, key, &mut meta, member, score, Some(cur));
                    updated += 1;
                }
            }
            None if !xx => {
                zset::put(t, key, &mut meta, member, score, None);
                added += 1;
            }
            None => {}
        }
    }
    if added + updated > 0 {
        zset::save(t, key, meta)?;
    }
    Ok(Frame::Integer(if ch { added + updated } else { added }))
}

// ---- point reads ----------------------------------------------------------------------

/// GEODIST key member1 member2 [M|KM|FT|MI].
fn geodist(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let to_meter = match argv.len() {
        5 => unit_arg(&argv[4])?,
        n if n > 5 => return Err(CmdError::syntax()),
        _ => 1.0,
    };
    let key = &argv[1];
    let Some(meta) = zset::open(t, key)? else {
        return Ok(Frame::Null);
    };
    let (Some(s1), Some(s2)) = (
        zset::score(t, key, &meta, &argv[2])?,
        zset::score(t, key, &meta, &argv[3])?,
    ) else {
        return Ok(Frame::Null);
    };
    match (decode_score(s1), decode_score(s2)) {
        (Some(a), Some(b)) => Ok(Frame::Bulk(
            format_distance(distance(a[0], a[1], b[0], b[1]) / to_meter).into_bytes(),
        )),
        _ => Ok(Frame::Null),
    }
}

/// The standard 11-character geohash of a stored score: decoded, re-encoded over
/// [-180, 180] x [-90, 90] with 26 steps; the 11th character stands for bits the score
/// does not have and is always '0'.
fn geohash_string(score: f64) -> Option<[u8; 11]> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let xy = decode_score(score)?;
    let std_lon = Range {
        min: -180.0,
        max: 180.0,
    };
    let std_lat = Range {
        min: -90.0,
        max: 90.0,
    };
    let hash = encode(std_lon, std_lat, xy[0], xy[1], 26).unwrap_or_default();
    let mut out = [0u8; 11];
    for (i, c) in out.iter_mut().enumerate() {
        let idx = if i == 10 {
            0
        } else {
            (hash.bits >> (52 - (i + 1) * 5)) & 0x1f
        };
        *c = ALPHABET[idx as usize];
    }
    Some(out)
}

/// GEOHASH key [member ...]: nil for missing members.
fn geohash(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let meta = zset::open(t, key)?;
    let mut out = Vec::with_capacity(argv.len() - 2);
    for m in &argv[2..] {
        let score = match &meta {
            Some(meta) => zset::score(t, key, meta, m)?,
            None => None,
        };
        out.push(
            score
                .and_then(geohash_string)
                .map_or(Frame::Null, |s| Frame::Bulk(s.to_vec())),
        );
    }
    Ok(Frame::Array(out))
}

/// GEOPOS key [member ...]: [longitude, latitude] or a nil array per member.
fn geopos(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let meta = zset::open(t, key)?;
    let mut out = Vec::with_capacity(argv.len() - 2);
    for m in &argv[2..] {
        let score = match &meta {
            Some(meta) => zset::score(t, key, meta, m)?,
            None => None,
        };
        out.push(
            score
                .and_then(decode_score)
                .map_or(Frame::NullArray, coords_reply),
        );
    }
    Ok(Frame::Array(out))
}

// ---- searches -------------------------------------------------------------------------

/// Variants of georadiusGeneric.
const RADIUS_COORDS: u8 = 1 << 0;
const RADIUS_MEMBER: u8 = 1 << 1;
const RADIUS_NOSTORE: u8 = 1 << 2;
const GEOSEARCH: u8 = 1 << 3;
const GEOSEARCHSTORE: u8 = 1 << 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// Redis's georadiusGeneric, checks and errors in its order:
///
/// GEORADIUS key lon lat radius unit [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT n [ANY]]
///   [ASC|DESC] [STORE key] [STOREDIST key]
/// GEORADIUSBYMEMBER key member radius unit ... (same options)
/// GEOSEARCH key FROMMEMBER m | FROMLONLAT lon lat, BYRADIUS r unit | BYBOX w h unit,
///   [ASC|DESC] [COUNT n [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]
/// GEOSEARCHSTORE dst src ... (GEOSEARCH's options) [STOREDIST]
fn georadius_generic(t: &mut Txn, argv: &[Vec<u8>], src_idx: usize, flags: u8) -> CmdResult {
    let src = &argv[src_idx];
    let zobj = zset::open(t, src)?;
    let mut storekey: Option<&[u8]> = None;
    let mut storedist = false;

    let mut shape = Shape {
        kind: ShapeKind::Circle { radius: 0.0 },
        xy: [0.0, 0.0],
        conversion: 0.0,
        bounds: [0.0; 4],
    };
    let base_args;
    if flags & RADIUS_COORDS != 0 {
        base_args = 6;
        shape.xy = lon_lat_args(&argv[2], &argv[3])?;
        let (r, conv) = distance_args(&argv[4], &argv[5])?;
        shape.kind = ShapeKind::Circle { radius: r };
        shape.conversion = conv;
    } else if flags & RADIUS_MEMBER != 0 {
        base_args = 5;
        // Without a source key nothing is looked up or checked: the options are still
        // parsed to pick the reply.
        if let Some(meta) = &zobj {
            shape.xy = member_position(t, src, meta, &argv[2])?;
            let (r, conv) = distance_args(&argv[3], &argv[4])?;
            shape.kind = ShapeKind::Circle { radius: r };
            shape.conversion = conv;
        }
    } else if flags & GEOSEARCH != 0 {
        if flags & GEOSEARCHSTORE != 0 {
            base_args = 3;
            storekey = Some(&argv[1]);
        } else {
            base_args = 2;
        }
    } else {
        return Err(CmdError::new("ERR Unknown georadius search type"));
    }

    let (mut withdist, mut withhash, mut withcoords) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: i64 = 0;
    let remaining = argv.len().saturating_sub(base_args);
    let mut i = 0;
    while i < remaining {
        let arg = &argv[base_args + i];
        let at = |k: usize| &argv[base_args + i + k];
        let search = flags & GEOSEARCH != 0;
        let may_store = flags & RADIUS_NOSTORE == 0 && !search;
        if args::is(arg, "withdist") {
            withdist = true;
        } else if args::is(arg, "withhash") {
            withhash = true;
        } else if args::is(arg, "withcoord") {
            withcoords = true;
        } else if args::is(arg, "any") {
            any = true;
        } else if args::is(arg, "asc") {
            sort = Sort::Asc;
        } else if args::is(arg, "desc") {
            sort = Sort::Desc;
        } else if args::is(arg, "count") && i + 1 < remaining {
            count = args::parse_i64(at(1))?;
            if count <= 0 {
                return Err(CmdError::new("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if args::is(arg, "store") && i + 1 < remaining && may_store {
            storekey = Some(at(1));
            storedist = false;
            i += 1;
        } else if args::is(arg, "storedist") && i + 1 < remaining && may_store {
            storekey = Some(at(1));
            storedist = true;
            i += 1;
        } else if args::is(arg, "storedist") && search && flags & GEOSEARCHSTORE != 0 {
            storedist = true;
        } else if args::is(arg, "frommember") && i + 1 < remaining && search && !fromloc {
            if let Some(meta) = &zobj {
                shape.xy = member_position(t, src, meta, at(1))?;
            }
            frommember = true;
            i += 1;
        } else if args::is(arg, "fromlonlat") && i + 2 < remaining && search && !frommember {
            shape.xy = lon_lat_args(at(1), at(2))?;
            fromloc = true;
            i += 2;
        } else if args::is(arg, "byradius") && i + 2 < remaining && search && !bybox {
            let (r, conv) = distance_args(at(1), at(2))?;
            shape.kind = ShapeKind::Circle { radius: r };
            shape.conversion = conv;
            byradius = true;
            i += 2;
        } else if args::is(arg, "bybox") && i + 3 < remaining && search && !byradius {
            let (w, h, conv) = box_args(at(1), at(2), at(3))?;
            shape.kind = ShapeKind::Rect {
                width: w,
                height: h,
            };
            shape.conversion = conv;
            bybox = true;
            i += 3;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }

    if storekey.is_some() && (withdist || withhash || withcoords) {
        let what = if flags & GEOSEARCHSTORE != 0 {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(CmdError::new(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = String::from_utf8_lossy(&argv[0]);
    if flags & GEOSEARCH != 0 && !(frommember || fromloc) {
        return Err(CmdError::new(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if flags & GEOSEARCH != 0 && !(byradius || bybox) {
        return Err(CmdError::new(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(CmdError::new(
            "ERR the ANY argument requires COUNT argument",
        ));
    }

    let Some(meta) = zobj else {
        return match storekey {
            Some(dst) => {
                t.delete_key(dst)?;
                Ok(Frame::Integer(0))
            }
            None => Ok(Frame::Array(Vec::new())),
        };
    };

    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let limit = if any { count as u64 } else { 0 };
    let mut points = points_in_shape(t, src, &meta, &mut shape, limit)?;

    if points.is_empty() && storekey.is_none() {
        return Ok(Frame::Array(Vec::new()));
    }
    let returned = if count == 0 {
        points.len()
    } else {
        points.len().min(count as usize)
    };
    // Stable sorts: points at exactly the same distance keep their search order.
    match sort {
        Sort::Asc => points.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Sort::Desc => points.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Sort::None => {}
    }
    points.truncate(returned);
    for p in points.iter_mut() {
        p.dist /= shape.conversion;
    }

    match storekey {
        None => {
            let options = withdist as usize + withcoords as usize + withhash as usize;
            let mut out = Vec::with_capacity(points.len());
            for p in points {
                if options == 0 {
                    out.push(Frame::Bulk(p.member));
                    continue;
                }
                let mut item = Vec::with_capacity(options + 1);
                item.push(Frame::Bulk(p.member));
                if withdist {
                    item.push(Frame::Bulk(format_distance(p.dist).into_bytes()));
                }
                if withhash {
                    item.push(Frame::Integer(p.score as i64));
                }
                if withcoords {
                    item.push(coords_reply(p.xy));
                }
                out.push(Frame::Array(item));
            }
            Ok(Frame::Array(out))
        }
        Some(dst) => {
            let mut seen = std::collections::HashSet::new();
            let entries: Vec<(Vec<u8>, f64)> = points
                .into_iter()
                .filter(|p| seen.insert(p.member.clone()))
                .map(|p| {
                    let s = if storedist { p.dist } else { p.score };
                    (p.member, s)
                })
                .collect();
            zset::store(t, dst, &entries)?;
            Ok(Frame::Integer(returned as i64))
        }
    }
}

fn georadius(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    georadius_generic(t, argv, 1, RADIUS_COORDS)
}

fn georadius_ro(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    georadius_generic(t, argv, 1, RADIUS_COORDS | RADIUS_NOSTORE)
}

fn georadiusbymember(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    georadius_generic(t, argv, 1, RADIUS_MEMBER)
}

fn georadiusbymember_ro(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    georadius_generic(t, argv, 1, RADIUS_MEMBER | RADIUS_NOSTORE)
}

fn geosearch(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    georadius_generic(t, argv, 1, GEOSEARCH)
}

fn geosearchstore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    georadius_generic(t, argv, 2, GEOSEARCH | GEOSEARCHSTORE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (x, y) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0x3ffffff, 0x1234567),
            (u32::MAX, 7),
        ] {
            let v = deinterleave64(interleave64(x, y));
            assert_eq!(v as u32, x);
            assert_eq!((v >> 32) as u32, y);
        }
        assert_eq!(interleave64(1, 0), 1);
        assert_eq!(interleave64(0, 1), 2);
    }

    #[test]
    fn neighbours_move_one_cell() {
        let h = encode_wgs84(13.361389, 38.115556, 10).unwrap();
        let a = decode(LONG_RANGE, LAT_RANGE, h).unwrap();
        let nb = neighbors(h);
        let north = decode(LONG_RANGE, LAT_RANGE, nb[0]).unwrap();
        let east = decode(LONG_RANGE, LAT_RANGE, nb[2]).unwrap();
        assert_eq!(north.lat.min, a.lat.max);
        assert_eq!(north.lon.min, a.lon.min);
        assert_eq!(east.lon.min, a.lon.max);
        assert_eq!(east.lat.min, a.lat.min);
    }

    #[test]
    fn formats_follow_redis() {
        assert_eq!(format_distance(166274.15156960033), "166274.1516");
        assert_eq!(format_distance(0.0), "0.0000");
        assert_eq!(format_distance(0.01), "0.0100");
        assert_eq!(format_distance(-0.01), "-0.0100");
        assert_eq!(format_distance(6.064_295_159_839_17e-5), "0.0001");
        assert_eq!(format_human(1.5), "1.5");
        assert_eq!(format_human(-0.0), "0");
        assert_eq!(format_human(2.0), "2");
    }

    #[test]
    fn steps_follow_the_radius() {
        assert_eq!(estimate_steps_by_radius(0.0, 0.0), 26);
        assert_eq!(estimate_steps_by_radius(200_000.0, 38.0), 6);
        assert!(estimate_steps_by_radius(1.0, 0.0) <= 26);
        assert_eq!(estimate_steps_by_radius(1e9, 0.0), 1);
    }

    /// GEOADD adds as ZADD with the positions' scores does (what Redis does by calling
    /// it): same replies, same contents, under NX, XX, CH and repeated members.
    #[test]
    fn geoadd_adds_as_zadd_does() {
        let mut store = crate::MemStore::default();
        let mut index = 0;
        let mut run = |argv: Vec<String>| {
            index += 1;
            let argv: Vec<Vec<u8>> = argv.into_iter().map(String::into_bytes).collect();
            let mut t = Txn::new(&store, index, 1_700_000_000_000, 42);
            let f = t.run(0, &argv);
            let effects = t.into_effects();
            store.apply(&effects);
            f
        };
        let places = [
            ("13.361389", "38.115556"),
            ("15.087269", "37.502669"),
            ("-1", "2.5"),
        ];
        let score = |(x, y): (&str, &str)| {
            score_of_position(x.parse().unwrap(), y.parse().unwrap()).unwrap_or(0)
        };
        let steps: &[(&[&str], &[(usize, &str)])] = &[
            (&["XX"], &[(0, "a")]),
            (&[], &[(0, "a"), (1, "b")]),
            (&["NX", "CH"], &[(2, "a"), (2, "c")]),
            (&["XX", "CH"], &[(2, "a"), (2, "b"), (0, "d")]),
            (&["CH"], &[(1, "a"), (1, "a"), (0, "e")]),
            (&[], &[(1, "a")]),
            (&["NX"], &[(0, "e"), (0, "f")]),
        ];
        for (opts, adds) in steps {
            let mut geo = vec!["GEOADD".to_string(), "g".to_string()];
            let mut z = vec!["ZADD".to_string(), "z".to_string()];
            for o in opts.iter() {
                geo.push(o.to_string());
                z.push(o.to_string());
            }
            for &(p, m) in adds.iter() {
                geo.extend([
                    places[p].0.to_string(),
                    places[p].1.to_string(),
                    m.to_string(),
                ]);
                z.extend([score(places[p]).to_string(), m.to_string()]);
            }
            assert_eq!(run(geo), run(z), "{opts:?} {adds:?}");
            let all = |k: &str| {
                ["ZRANGE", k, "0", "-1", "WITHSCORES"]
                    .map(String::from)
                    .to_vec()
            };
            assert_eq!(run(all("g")), run(all("z")), "{opts:?} {adds:?}");
        }
        let none = ["GEOADD", "g", "NX", "CH", "CH"].map(String::from).to_vec();
        assert_eq!(run(none), Frame::Error("ERR syntax error".into()));
    }
}
