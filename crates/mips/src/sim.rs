//! The simulator: memory, the fetch/execute loop and the syscalls.

use std::io::Write as _;

use crate::instr::Op;
use crate::{
    ExitStatus, Limits, Program, RunOutcome, DATA_BASE, GP_INIT, HEAP_BASE, SP_INIT, STACK_TOP,
    TEXT_BASE,
};

/// Initial size of the stack region (it grows on demand).
const INITIAL_STACK: u32 = 64 << 10;

/// Why execution stopped.
#[derive(Debug)]
enum Stop {
    Exit(i32),
    StepLimit,
    Overflow,
    BadAddr { addr: u32, store: bool },
    Unaligned { addr: u32, store: bool, size: u32 },
    BadJump(u32),
    Break(u32),
    Trap,
    UnknownSyscall(u32),
    Unsupported(u32, &'static str),
    SbrkNegative(i32),
    MemoryLimit,
    OutputLimit,
    BadString(u32),
    FellOff,
}

/// Simulated memory: data+heap growing up from `DATA_BASE`, stack growing down from
/// `STACK_TOP`. Every access is bounds-checked; nothing else is mapped.
struct Memory {
    /// Bytes of `[DATA_BASE, DATA_BASE + data.len())`; the end is SPIM's `data_top`.
    data: Vec<u8>,
    /// Bytes of `[stack_base, STACK_TOP)`.
    stack: Vec<u8>,
    stack_base: u32,
    limit: usize,
}

impl Memory {
    /// The `n` bytes at `addr` (`n` ≤ 4, no alignment check).
    #[inline(always)]
    fn slice(&mut self, addr: u32, n: usize, store: bool) -> Result<&mut [u8], Stop> {
        let off = addr.wrapping_sub(DATA_BASE) as usize;
        if off + n <= self.data.len() {
            return Ok(&mut self.data[off..off + n]);
        }
        let off = addr.wrapping_sub(self.stack_base) as usize;
        if off + n <= self.stack.len() {
            return Ok(&mut self.stack[off..off + n]);
        }
        self.grow_stack(addr, store)?;
        let off = addr.wrapping_sub(self.stack_base) as usize;
        Ok(&mut self.stack[off..off + n])
    }

    /// Grows the stack down to cover `addr` (as SPIM does for any address between the
    /// data top and the stack), or reports a bad address.
    #[cold]
    fn grow_stack(&mut self, addr: u32, store: bool) -> Result<(), Stop> {
        let data_top = DATA_BASE as usize + self.data.len();
        let below = (STACK_TOP - self.stack_base) as usize;
        if addr >= self.stack_base || (addr as usize) < data_top || addr < DATA_BASE {
            return Err(Stop::BadAddr { addr, store });
        }
        let needed = (STACK_TOP - (addr & !3)) as usize;
        if needed + self.data.len() > self.limit {
            return Err(if needed > self.limit {
                Stop::BadAddr { addr, store }
            } else {
                Stop::MemoryLimit
            });
        }
        let room = STACK_TOP as usize - data_top;
        let new_len = (below * 2)
            .max(needed)
            .min(self.limit - self.data.len())
            .min(room)
            .max(needed);
        let mut grown = vec![0u8; new_len];
        grown[new_len - below..].copy_from_slice(&self.stack);
        self.stack = grown;
        self.stack_base = STACK_TOP - new_len as u32;
        Ok(())
    }

    #[inline(always)]
    fn load_u32(&mut self, addr: u32) -> Result<u32, Stop> {
        if addr & 3 != 0 {
            return Err(Stop::Unaligned {
                addr,
                store: false,
                size: 4,
            });
        }
        let b = self.slice(addr, 4, false)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline(always)]
    fn store_u32(&mut self, addr: u32, v: u32) -> Result<(), Stop> {
        if addr & 3 != 0 {
            return Err(Stop::Unaligned {
                addr,
                store: true,
                size: 4,
            });
        }
        self.slice(addr, 4, true)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }

    #[inline(always)]
    fn load_u16(&mut self, addr: u32) -> Result<u16, Stop> {
        if addr & 1 != 0 {
            return Err(Stop::Unaligned {
                addr,
                store: false,
                size: 2,
            });
        }
        let b = self.slice(addr, 2, false)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    #[inline(always)]
    fn store_u16(&mut self, addr: u32, v: u16) -> Result<(), Stop> {
        if addr & 1 != 0 {
            return Err(Stop::Unaligned {
                addr,
                store: true,
                size: 2,
            });
        }
        self.slice(addr, 2, true)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }

    #[inline(always)]
    fn load_u8(&mut self, addr: u32) -> Result<u8, Stop> {
        Ok(self.slice(addr, 1, false)?[0])
    }

    #[inline(always)]
    fn store_u8(&mut self, addr: u32, v: u8) -> Result<(), Stop> {
        self.slice(addr, 1, true)?[0] = v;
        Ok(())
    }

    /// The NUL-terminated string at `addr`.
    fn c_string(&self, addr: u32) -> Result<&[u8], Stop> {
        let region = {
            let off = addr.wrapping_sub(DATA_BASE) as usize;
            if off < self.data.len() {
                &self.data[off..]
            } else {
                let off = addr.wrapping_sub(self.stack_base) as usize;
                if off < self.stack.len() {
                    &self.stack[off..]
                } else {
                    return Err(Stop::BadAddr { addr, store: false });
                }
            }
        };
        match region.iter().position(|&b| b == 0) {
            Some(n) => Ok(&region[..n]),
            None => Err(Stop::BadString(addr)),
        }
    }

    /// SPIM's `expand_data` for sbrk: returns the old top.
    fn sbrk(&mut self, bytes: i32) -> Result<u32, Stop> {
        if bytes < 0 {
            return Err(Stop::SbrkNegative(bytes));
        }
        let old_top = DATA_BASE + self.data.len() as u32;
        let delta = (bytes as usize + 3) & !3;
        let new_len = self.data.len() + delta;
        let new_top = DATA_BASE as u64 + new_len as u64;
        if new_len + self.stack.len() > self.limit || new_top > u64::from(self.stack_base) {
            return Err(Stop::MemoryLimit);
        }
        self.data.resize(new_len, 0);
        Ok(old_top)
    }
}

struct Io<'a> {
    input: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    max_out: usize,
}

impl Io<'_> {
    /// SPIM's `read_input`: at most `size - 1` bytes, stopping after a newline.
    fn read_line(&mut self, size: i64) -> &[u8] {
        let start = self.pos;
        let mut left = size;
        while left > 1 && self.pos < self.input.len() {
            let b = self.input[self.pos];
            self.pos += 1;
            left -= 1;
            if b == b'\n' {
                break;
            }
        }
        &self.input[start..self.pos]
    }

    fn check_out(&self) -> Result<(), Stop> {
        if self.out.len() > self.max_out {
            Err(Stop::OutputLimit)
        } else {
            Ok(())
        }
    }
}

/// C's `atol` on a 64-bit platform, truncated to a 32-bit register.
fn atol(s: &[u8]) -> u32 {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let mut v: i64 = 0;
    let mut overflow = false;
    while i < s.len() && s[i].is_ascii_digit() {
        let d = i64::from(s[i] - b'0');
        match v.checked_mul(10).and_then(|x| {
            if neg {
                x.checked_sub(d)
            } else {
                x.checked_add(d)
            }
        }) {
            Some(n) => v = n,
            None => {
                overflow = true;
                break;
            }
        }
        i += 1;
    }
    if overflow {
        v = if neg { i64::MIN } else { i64::MAX };
    }
    v as u32
}

pub(crate) fn run(p: &Program, stdin: &[u8], limits: Limits) -> RunOutcome {
    let mut io = Io {
        input: stdin,
        pos: 0,
        out: Vec::new(),
        max_out: limits.max_output_bytes,
    };
    let heap_start = HEAP_BASE.max((p.data_end + 7) & !7);
    let data_len = (heap_start - DATA_BASE) as usize;
    let (stop, pc, steps) = if data_len + INITIAL_STACK as usize > limits.memory_bytes {
        (Stop::MemoryLimit, TEXT_BASE, 0)
    } else {
        let mut data = Vec::with_capacity(data_len);
        data.extend_from_slice(&p.data);
        data.resize(data_len, 0);
        let mut mem = Memory {
            data,
            stack: vec![0; INITIAL_STACK as usize],
            stack_base: STACK_TOP - INITIAL_STACK,
            limit: limits.memory_bytes,
        };
        execute(p, &mut mem, &mut io, limits.max_steps)
    };
    let file = &p.file_name;
    let line_at = |pc: u32| p.line_of(pc).unwrap_or(0);
    let place = |line: u32| {
        if line == 0 {
            format!("{file}: (startup code)")
        } else {
            format!("{file}:{line}")
        }
    };
    let (status, stderr) = match stop {
        Stop::Exit(code) => (ExitStatus::Exited(code), String::new()),
        Stop::StepLimit => {
            let line = line_at(pc);
            let msg = format!(
                "{}: runtime error: step limit of {} instructions reached (at 0x{pc:08x})\n",
                place(line),
                limits.max_steps
            );
            (ExitStatus::StepLimit { line, pc }, msg)
        }
        other => {
            // Falling off the end is reported at the last instruction.
            let pc = if matches!(other, Stop::FellOff) {
                pc.wrapping_sub(4)
            } else {
                pc
            };
            let line = line_at(pc);
            let message = describe(&other, &limits);
            let msg = format!(
                "{}: runtime error: {message} (at 0x{pc:08x})\n",
                place(line)
            );
            (ExitStatus::RuntimeError { line, pc, message }, msg)
        }
    };
    RunOutcome {
        stdout: io.out,
        status,
        steps,
        stderr,
    }
}

fn describe(stop: &Stop, limits: &Limits) -> String {
    let kind = |store: bool| if store { "store" } else { "load" };
    match *stop {
        Stop::Exit(_) | Stop::StepLimit => String::new(),
        Stop::Overflow => "arithmetic overflow".into(),
        Stop::BadAddr { addr, store } => {
            format!("bad data address 0x{addr:08x} on {}", kind(store))
        }
        Stop::Unaligned { addr, store, size } => format!(
            "unaligned address 0x{addr:08x} on {} (must be a multiple of {size})",
            kind(store)
        ),
        Stop::BadJump(t) => format!("jump to 0x{t:08x}, outside the program's instructions"),
        Stop::Break(7) => "division by zero".into(),
        Stop::Break(6) => "multiplication overflow".into(),
        Stop::Break(c) => format!("break instruction (code {c})"),
        Stop::Trap => "trap instruction".into(),
        Stop::UnknownSyscall(n) => format!("unknown system call {n} (in $v0)"),
        Stop::Unsupported(n, what) => format!("system call {n} ({what}) is not supported"),
        Stop::SbrkNegative(n) => format!("sbrk with a negative size ({n})"),
        Stop::MemoryLimit => format!("memory limit of {} bytes exceeded", limits.memory_bytes),
        Stop::OutputLimit => format!("output limit of {} bytes exceeded", limits.max_output_bytes),
        Stop::BadString(a) => format!("string at 0x{a:08x} is not terminated by a NUL byte"),
        Stop::FellOff => "execution ran past the last instruction (missing exit syscall?)".into(),
    }
}

/// The fetch/execute loop. Returns why it stopped, the pc of the instruction concerned
/// and the number of executed instructions.
fn execute(p: &Program, mem: &mut Memory, io: &mut Io, max_steps: u64) -> (Stop, u32, u64) {
    let text = &p.text[..];
    let text_len = text.len() as u32;
    let mut r = [0u32; 32];
    r[28] = GP_INIT;
    r[29] = SP_INIT;
    let mut hi: u32 = 0;
    let mut lo: u32 = 0;
    let mut pc = TEXT_BASE;
    let mut steps: u64 = 0;

    macro_rules! tri {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(stop) => break stop,
            }
        };
    }
    macro_rules! jump {
        ($t:expr) => {{
            let t: u32 = $t;
            if t & 3 != 0 || (t.wrapping_sub(TEXT_BASE) >> 2) >= text_len {
                break Stop::BadJump(t);
            }
            t
        }};
    }

    let stop = loop {
        let idx = (pc.wrapping_sub(TEXT_BASE) >> 2) as usize;
        let Some(&ins) = text.get(idx) else {
            break Stop::FellOff;
        };
        if steps >= max_steps {
            break Stop::StepLimit;
        }
        steps += 1;
        let mut next = pc.wrapping_add(4);
        let (rd, rs, rt, imm) = (
            ins.rd as usize & 31,
            ins.rs as usize & 31,
            ins.rt as usize & 31,
            ins.imm,
        );
        match ins.op {
            Op::Add => match (r[rs] as i32).checked_add(r[rt] as i32) {
                Some(v) => r[rd] = v as u32,
                None => break Stop::Overflow,
            },
            Op::Addu => r[rd] = r[rs].wrapping_add(r[rt]),
            Op::Sub => match (r[rs] as i32).checked_sub(r[rt] as i32) {
                Some(v) => r[rd] = v as u32,
                None => break Stop::Overflow,
            },
            Op::Subu => r[rd] = r[rs].wrapping_sub(r[rt]),
            Op::And => r[rd] = r[rs] & r[rt],
            Op::Or => r[rd] = r[rs] | r[rt],
            Op::Xor => r[rd] = r[rs] ^ r[rt],
            Op::Nor => r[rd] = !(r[rs] | r[rt]),
            Op::Slt => r[rd] = u32::from((r[rs] as i32) < (r[rt] as i32)),
            Op::Sltu => r[rd] = u32::from(r[rs] < r[rt]),
            Op::Sllv => r[rd] = r[rt] << (r[rs] & 31),
            Op::Srlv => r[rd] = r[rt] >> (r[rs] & 31),
            Op::Srav => r[rd] = ((r[rt] as i32) >> (r[rs] & 31)) as u32,
            Op::Movn => {
                if r[rt] != 0 {
                    r[rd] = r[rs];
                }
            }
            Op::Movz => {
                if r[rt] == 0 {
                    r[rd] = r[rs];
                }
            }
            Op::Mul => r[rd] = (r[rs] as i32).wrapping_mul(r[rt] as i32) as u32,
            Op::Sll => r[rd] = r[rt] << (imm & 31),
            Op::Srl => r[rd] = r[rt] >> (imm & 31),
            Op::Sra => r[rd] = ((r[rt] as i32) >> (imm & 31)) as u32,
            Op::Clz => r[rd] = r[rs].leading_zeros(),
            Op::Clo => r[rd] = r[rs].leading_ones(),
            Op::Mult => {
                let v = i64::from(r[rs] as i32) * i64::from(r[rt] as i32);
                hi = (v >> 32) as u32;
                lo = v as u32;
            }
            Op::Multu => {
                let v = u64::from(r[rs]) * u64::from(r[rt]);
                hi = (v >> 32) as u32;
                lo = v as u32;
            }
            Op::Div => {
                // SPIM leaves hi/lo unchanged when dividing by zero.
                let (a, b) = (r[rs] as i32, r[rt] as i32);
                if b != 0 {
                    lo = a.wrapping_div(b) as u32;
                    hi = a.wrapping_rem(b) as u32;
                }
            }
            Op::Divu => {
                if let (Some(q), Some(m)) = (r[rs].checked_div(r[rt]), r[rs].checked_rem(r[rt])) {
                    lo = q;
                    hi = m;
                }
            }
            Op::Madd | Op::Msub => {
                let acc = ((u64::from(hi) << 32) | u64::from(lo)) as i64;
                let prod = i64::from(r[rs] as i32) * i64::from(r[rt] as i32);
                let v = if ins.op == Op::Madd {
                    acc.wrapping_add(prod)
                } else {
                    acc.wrapping_sub(prod)
                };
                hi = (v >> 32) as u32;
                lo = v as u32;
            }
            Op::Maddu | Op::Msubu => {
                let acc = (u64::from(hi) << 32) | u64::from(lo);
                let prod = u64::from(r[rs]) * u64::from(r[rt]);
                let v = if ins.op == Op::Maddu {
                    acc.wrapping_add(prod)
                } else {
                    acc.wrapping_sub(prod)
                };
                hi = (v >> 32) as u32;
                lo = v as u32;
            }
            Op::Mfhi => r[rd] = hi,
            Op::Mflo => r[rd] = lo,
            Op::Mthi => hi = r[rs],
            Op::Mtlo => lo = r[rs],
            Op::Addi => match (r[rs] as i32).checked_add(imm as i32) {
                Some(v) => r[rt] = v as u32,
                None => break Stop::Overflow,
            },
            Op::Addiu => r[rt] = r[rs].wrapping_add(imm),
            Op::Slti => r[rt] = u32::from((r[rs] as i32) < (imm as i32)),
            Op::Sltiu => r[rt] = u32::from(r[rs] < imm),
            Op::Andi => r[rt] = r[rs] & imm,
            Op::Ori => r[rt] = r[rs] | imm,
            Op::Xori => r[rt] = r[rs] ^ imm,
            Op::Lui => r[rt] = imm,
            Op::Lb => r[rt] = tri!(mem.load_u8(r[rs].wrapping_add(imm))) as i8 as i32 as u32,
            Op::Lbu => r[rt] = u32::from(tri!(mem.load_u8(r[rs].wrapping_add(imm)))),
            Op::Lh => r[rt] = tri!(mem.load_u16(r[rs].wrapping_add(imm))) as i16 as i32 as u32,
            Op::Lhu => r[rt] = u32::from(tri!(mem.load_u16(r[rs].wrapping_add(imm)))),
            Op::Lw => r[rt] = tri!(mem.load_u32(r[rs].wrapping_add(imm))),
            Op::Lwl => {
                let a = r[rs].wrapping_add(imm);
                let b = a & 3;
                let w = tri!(mem.load_u32(a & !3));
                let keep = if b == 3 { 0 } else { 0x00ff_ffff >> (b * 8) };
                r[rt] = (r[rt] & keep) | (w << ((3 - b) * 8));
            }
            Op::Lwr => {
                let a = r[rs].wrapping_add(imm);
                let b = a & 3;
                let w = tri!(mem.load_u32(a & !3));
                let keep = if b == 0 {
                    0
                } else {
                    0xffff_ffff << ((4 - b) * 8)
                };
                r[rt] = (r[rt] & keep) | (w >> (b * 8));
            }
            Op::Sb => tri!(mem.store_u8(r[rs].wrapping_add(imm), r[rt] as u8)),
            Op::Sh => tri!(mem.store_u16(r[rs].wrapping_add(imm), r[rt] as u16)),
            Op::Sw => tri!(mem.store_u32(r[rs].wrapping_add(imm), r[rt])),
            Op::Swl => tri!(store_left(mem, r[rs].wrapping_add(imm), r[rt])),
            Op::Swr => tri!(store_right(mem, r[rs].wrapping_add(imm), r[rt])),
            Op::Beq => {
                if r[rs] == r[rt] {
                    next = jump!(imm);
                }
            }
            Op::Bne => {
                if r[rs] != r[rt] {
                    next = jump!(imm);
                }
            }
            Op::Blez => {
                if (r[rs] as i32) <= 0 {
                    next = jump!(imm);
                }
            }
            Op::Bgtz => {
                if (r[rs] as i32) > 0 {
                    next = jump!(imm);
                }
            }
            Op::Bltz => {
                if (r[rs] as i32) < 0 {
                    next = jump!(imm);
                }
            }
            Op::Bgez => {
                if (r[rs] as i32) >= 0 {
                    next = jump!(imm);
                }
            }
            Op::Bltzal => {
                let taken = (r[rs] as i32) < 0;
                r[31] = pc.wrapping_add(4);
                if taken {
                    next = jump!(imm);
                }
            }
            Op::Bgezal => {
                let taken = (r[rs] as i32) >= 0;
                r[31] = pc.wrapping_add(4);
                if taken {
                    next = jump!(imm);
                }
            }
            Op::J => next = jump!(imm),
            Op::Jal => {
                next = jump!(imm);
                r[31] = pc.wrapping_add(4);
            }
            Op::Jr => next = jump!(r[rs]),
            Op::Jalr => {
                next = jump!(r[rs]);
                r[rd] = pc.wrapping_add(4);
            }
            Op::Teq => {
                if r[rs] == r[rt] {
                    break Stop::Trap;
                }
            }
            Op::Tne => {
                if r[rs] != r[rt] {
                    break Stop::Trap;
                }
            }
            Op::Tge => {
                if (r[rs] as i32) >= (r[rt] as i32) {
                    break Stop::Trap;
                }
            }
            Op::Tgeu => {
                if r[rs] >= r[rt] {
                    break Stop::Trap;
                }
            }
            Op::Tlt => {
                if (r[rs] as i32) < (r[rt] as i32) {
                    break Stop::Trap;
                }
            }
            Op::Tltu => {
                if r[rs] < r[rt] {
                    break Stop::Trap;
                }
            }
            Op::Syscall => tri!(syscall(&mut r, mem, io)),
            Op::Break => break Stop::Break(imm),
            Op::Nop => {}
        }
        r[0] = 0;
        pc = next;
    };
    (stop, pc, steps)
}

/// `swl` (little-endian): the high `b + 1` bytes of `v` go to `[a & !3, a]`.
fn store_left(mem: &mut Memory, a: u32, v: u32) -> Result<(), Stop> {
    let b = a & 3;
    let base = a & !3;
    for i in 0..=b {
        mem.store_u8(base.wrapping_add(i), (v >> ((3 - b + i) * 8)) as u8)?;
    }
    Ok(())
}

/// `swr` (little-endian): the low `4 - b` bytes of `v` go to `[a, a | 3]`.
fn store_right(mem: &mut Memory, a: u32, v: u32) -> Result<(), Stop> {
    let b = a & 3;
    for i in 0..(4 - b) {
        mem.store_u8(a.wrapping_add(i), (v >> (i * 8)) as u8)?;
    }
    Ok(())
}

#[cold]
fn syscall(r: &mut [u32; 32], mem: &mut Memory, io: &mut Io) -> Result<(), Stop> {
    let (v0, a0, a1) = (r[2], r[4], r[5]);
    match v0 {
        1 => {
            let _ = write!(io.out, "{}", a0 as i32);
            io.check_out()?;
        }
        4 => {
            let s = mem.c_string(a0)?;
            io.out.extend_from_slice(s);
            io.check_out()?;
        }
        5 => {
            let line = io.read_line(256);
            r[2] = atol(line);
        }
        8 => {
            let size = i64::from(a1 as i32);
            let line = io.read_line(size).to_vec();
            let mut addr = a0;
            for &b in &line {
                mem.store_u8(addr, b)?;
                addr = addr.wrapping_add(1);
            }
            if size > 0 {
                mem.store_u8(addr, 0)?;
            }
        }
        9 => r[2] = mem.sbrk(a0 as i32)?,
        10 => return Err(Stop::Exit(0)),
        11 => {
            io.out.push(a0 as u8);
            io.check_out()?;
        }
        12 => {
            let line = io.read_line(2);
            let c = line.first().copied().unwrap_or(b'\n');
            r[2] = c as i8 as i32 as u32;
        }
        17 => return Err(Stop::Exit(a0 as i32)),
        34 => {
            let _ = write!(io.out, "0x{a0:08x}");
            io.check_out()?;
        }
        35 => {
            let _ = write!(io.out, "{a0:032b}");
            io.check_out()?;
        }
        36 => {
            let _ = write!(io.out, "{a0}");
            io.check_out()?;
        }
        2 | 3 | 6 | 7 => return Err(Stop::Unsupported(v0, "floating point")),
        13..=16 => return Err(Stop::Unsupported(v0, "file access")),
        _ => return Err(Stop::UnknownSyscall(v0)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::atol;

    #[test]
    fn atol_like_c() {
        assert_eq!(atol(b"  -12abc\n"), (-12i32) as u32);
        assert_eq!(atol(b"99999999999\n"), 1_215_752_191);
        assert_eq!(atol(b""), 0);
        assert_eq!(atol(b"x5"), 0);
        assert_eq!(atol(b"+7"), 7);
        assert_eq!(atol(b"99999999999999999999999"), u32::MAX);
    }
}
