//! LOLWUT [VERSION v] [args...]: Redis 7.0's computer art, drawn as
//! Redis's lolwut5.c and lolwut6.c draw it (same canvas sizes, same
//! float arithmetic, same rendering), with the version line naming the
//! Redis version sledis answers for (`REDIS_VERSION`, as INFO does). The
//! random parts use our generator, not C's `rand()`, so only the parts
//! Redis draws without randomness (version 5's first two rows of squares,
//! version 6 on one row) match Redis byte for byte.

use super::{cmd, flags::*, Command, Ctx};
use crate::util::eq_ic;
use bytes::Bytes;
use rand::Rng;

pub(crate) fn commands() -> Vec<Command> {
    vec![cmd(
        "lolwut",
        -1,
        READONLY | FAST,
        (0, 0, 0),
        "server",
        "Display some computer art and the Redis version",
        lolwut,
    )
    .syntax("[VERSION version]")]
}

/// C's `rand()` range.
const RAND_MAX: i32 = i32::MAX;

fn c_rand() -> i32 {
    rand::thread_rng().gen_range(0..=RAND_MAX)
}

fn lolwut(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let mut version = None;
    let mut args = &a[1..];
    if a.len() >= 3 && eq_ic(&a[1], "version") {
        let Some(v) = super::int_arg(ctx, &a[2]) else {
            return;
        };
        // Redis prints it as `%u.0.0` and looks at its first characters.
        version = Some(v as u32);
        args = &a[3..];
    }
    let major = match version {
        Some(v) => v,
        None => crate::REDIS_VERSION
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0),
    };
    // Redis also sends 4.9 to 5 and 5.9 to 6; "%u.0.0" never has a 9 there.
    let text = match major {
        5 => {
            let Some(n) = long_args(ctx, args, &[66, 8, 12]) else {
                return;
            };
            let canvas = schotter(
                n[0].clamp(1, 1000) as i32,
                n[1].clamp(1, 200) as i32,
                n[2].clamp(1, 200) as i32,
            );
            format!(
                "{}\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. {}\n",
                canvas.braille(),
                crate::REDIS_VERSION
            )
        }
        6 => {
            let Some(n) = long_args(ctx, args, &[80, 20]) else {
                return;
            };
            let mut canvas = Canvas::new(n[0].clamp(1, 1000) as i32, n[1].clamp(1, 1000) as i32, 3);
            skyline(&mut canvas);
            format!(
                "{}\nDedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori. Redis ver. {}\n",
                canvas.colors(),
                crate::REDIS_VERSION
            )
        }
        _ => format!("Redis ver. {}\n", crate::REDIS_VERSION),
    };
    ctx.out.verbatim(&text);
}

/// The optional numeric arguments, over their defaults (Redis's
/// `getLongFromObjectOrReply`, in order; extra arguments are ignored).
fn long_args(ctx: &mut Ctx<'_>, args: &[Bytes], defaults: &[i64]) -> Option<Vec<i64>> {
    let mut out = defaults.to_vec();
    for (i, slot) in out.iter_mut().enumerate() {
        if let Some(a) = args.get(i) {
            *slot = super::int_arg(ctx, a)?;
        }
    }
    Some(out)
}

struct Canvas {
    width: i32,
    height: i32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i32, height: i32, color: u8) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![color; (width.max(0) * height.max(0)) as usize],
        }
    }

    fn set(&mut self, x: i32, y: i32, color: u8) {
        if x >= 0 && x < self.width && y >= 0 && y < self.height {
            self.pixels[(x + y * self.width) as usize] = color;
        }
    }

    fn get(&self, x: i32, y: i32) -> u8 {
        if x >= 0 && x < self.width && y >= 0 && y < self.height {
            self.pixels[(x + y * self.width) as usize]
        } else {
            0
        }
    }

    /// Bresenham, as `lwDrawLine`.
    fn line(&mut self, mut x1: i32, mut y1: i32, x2: i32, y2: i32, color: u8) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let sx = if x1 < x2 { 1 } else { -1 };
        let sy = if y1 < y2 { 1 } else { -1 };
        let mut err = dx - dy;
        loop {
            self.set(x1, y1, color);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// `lwDrawSquare`: C's float and double steps kept as they are.
    fn square(&mut self, x: i32, y: i32, size: f32, angle: f32, color: u8) {
        // Redis's own truncated constant, not SQRT_2: the same pixels.
        #[allow(clippy::approx_constant)]
        let size = ((size as f64 / 1.4142135623) as f32).round();
        let mut k = (std::f64::consts::FRAC_PI_4 + angle as f64) as f32;
        let (mut px, mut py) = ([0i32; 4], [0i32; 4]);
        for j in 0..4 {
            px[j] = ((k as f64).sin() * size as f64 + x as f64).round() as i32;
            py[j] = ((k as f64).cos() * size as f64 + y as f64).round() as i32;
            k = (k as f64 + std::f64::consts::FRAC_PI_2) as f32;
        }
        for j in 0..4 {
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color);
        }
    }

    /// Version 5's rendering: 2x4 pixels per braille character.
    fn braille(&self) -> String {
        let mut s = String::new();
        let mut y = 0;
        while y < self.height {
            let mut x = 0;
            while x < self.width {
                let bits = [
                    (0, 0),
                    (0, 1),
                    (0, 2),
                    (1, 0),
                    (1, 1),
                    (1, 2),
                    (0, 3),
                    (1, 3),
                ];
                let mut byte = 0u32;
                for (i, (dx, dy)) in bits.iter().enumerate() {
                    if self.get(x + dx, y + dy) != 0 {
                        byte |= 1 << i;
                    }
                }
                s.push(char::from_u32(0x2800 + byte).unwrap_or(' '));
                x += 2;
            }
            if y != self.height - 1 {
                s.push('\n');
            }
            y += 4;
        }
        s
    }

    /// Version 6's rendering: one colored space per pixel.
    fn colors(&self) -> String {
        let mut s = String::new();
        for y in 0..self.height {
            for x in 0..self.width {
                let ce = match self.get(x, y) {
                    1 => "0;90;100m",
                    2 => "0;37;47m",
                    3 => "0;97;107m",
                    _ => "0;30;40m",
                };
                s.push_str("\x1b[");
                s.push_str(ce);
                s.push_str(" \x1b[0m");
            }
            if y != self.height - 1 {
                s.push('\n');
            }
        }
        s
    }
}

/// `lwDrawSchotter`: rows of squares, turned and shifted more and more
/// from the third row down.
fn schotter(cols: i32, per_row: i32, per_col: i32) -> Canvas {
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32 + (padding * 2) as f32) as i32;
    let mut canvas = Canvas::new(width, height, 0);
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut angle = 0.0f32;
            if y > 1 {
                let r = || c_rand() as f32 / RAND_MAX as f32 / per_col as f32 * y as f32;
                let (mut r1, mut r2, mut r3) = (r(), r(), r());
                if c_rand() % 2 != 0 {
                    r1 = -r1;
                }
                if c_rand() % 2 != 0 {
                    r2 = -r2;
                }
                if c_rand() % 2 != 0 {
                    r3 = -r3;
                }
                angle = r1;
                sx = (sx as f32 + r2 * side / 3.0) as i32;
                sy = (sy as f32 + r3 * side / 3.0) as i32;
            }
            canvas.square(sx, sy, side, angle, 1);
        }
    }
    canvas
}

struct Skyscraper {
    xoff: i32,
    width: i32,
    height: i32,
    windows: bool,
    color: u8,
}

/// `generateSkyscraper`.
fn skyscraper(canvas: &mut Canvas, si: &Skyscraper) {
    let starty = canvas.height - 1;
    let endy = starty - si.height + 1;
    let mut y = starty;
    while y >= endy {
        for x in si.xoff..si.xoff + si.width {
            // The roof is four pixels narrower.
            if y == endy && (x <= si.xoff + 1 || x >= si.xoff + si.width - 2) {
                continue;
            }
            let mut color = si.color;
            if si.windows
                && x > si.xoff + 1
                && x < si.xoff + si.width - 2
                && y > endy + 1
                && y < starty - 1
            {
                let relx = x - (si.xoff + 1);
                let rely = y - (endy + 1);
                if (relx / 2) % 2 != 0 && rely % 2 != 0 {
                    loop {
                        color = 1 + (c_rand() % 2) as u8;
                        if color != si.color {
                            break;
                        }
                    }
                    if relx % 2 != 0 {
                        color = canvas.get(x - 1, y);
                    }
                }
            }
            canvas.set(x, y, color);
        }
        y -= 1;
    }
}

/// `generateSkyline`: two rows of gray buildings, then black ones with
/// windows in front.
fn skyline(canvas: &mut Canvas) {
    let (w, h) = (canvas.width, canvas.height);
    for color in [2u8, 1] {
        let mut offset = -10;
        while offset < w {
            offset += c_rand() % 8;
            let width = 10 + c_rand() % 9;
            let height = if color == 2 {
                h / 2 + (c_rand() % h) / 2
            } else {
                h / 2 + (c_rand() % h) / 3
            };
            let si = Skyscraper {
                xoff: offset,
                width,
                height,
                windows: false,
                color,
            };
            skyscraper(canvas, &si);
            offset += if color == 2 { width / 2 } else { width + 1 };
        }
    }
    let mut offset = -10;
    while offset < w {
        offset += c_rand() % 8;
        let mut width = 5 + c_rand() % 14;
        if width % 4 != 0 {
            width += width % 3;
        }
        let height = h / 3 + (c_rand() % h) / 2;
        let si = Skyscraper {
            xoff: offset,
            width,
            height,
            windows: true,
            color: 0,
        };
        skyscraper(canvas, &si);
        offset += width + 5;
    }
}
