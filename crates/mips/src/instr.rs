//! Pre-decoded machine instructions executed by the simulator.

/// Operation of a decoded instruction. Pseudo-instructions never appear here:
/// the assembler expands them into these real MIPS32 operations, as SPIM does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    // R-type, `rd = rs op rt`.
    Add,
    Addu,
    Sub,
    Subu,
    And,
    Or,
    Xor,
    Nor,
    Slt,
    Sltu,
    Sllv,
    Srlv,
    Srav,
    Movn,
    Movz,
    Mul,
    // Shifts by constant: `rd = rt op imm`.
    Sll,
    Srl,
    Sra,
    // `rd = op(rs)`.
    Clz,
    Clo,
    // hi/lo.
    Mult,
    Multu,
    Div,
    Divu,
    Madd,
    Maddu,
    Msub,
    Msubu,
    Mfhi,
    Mflo,
    Mthi,
    Mtlo,
    // I-type, `rt = rs op imm` (imm already sign- or zero-extended).
    Addi,
    Addiu,
    Slti,
    Sltiu,
    Andi,
    Ori,
    Xori,
    /// `rt = imm` (imm already shifted left by 16).
    Lui,
    // Loads and stores: address `rs + imm`, register `rt`.
    Lb,
    Lbu,
    Lh,
    Lhu,
    Lw,
    Lwl,
    Lwr,
    Sb,
    Sh,
    Sw,
    Swl,
    Swr,
    // Branches to the absolute address `imm`.
    Beq,
    Bne,
    Blez,
    Bgtz,
    Bltz,
    Bgez,
    Bltzal,
    Bgezal,
    // Jumps.
    J,
    Jal,
    Jr,
    /// `rd = pc + 4; pc = rs`.
    Jalr,
    // Traps with register operands (`rs`, `rt`).
    Teq,
    Tne,
    Tge,
    Tgeu,
    Tlt,
    Tltu,
    Syscall,
    /// Break with code `imm`.
    Break,
    Nop,
}

/// A decoded instruction: 8 bytes, copied out of the text array at every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Instr {
    pub op: Op,
    pub rd: u8,
    pub rs: u8,
    pub rt: u8,
    pub imm: u32,
}

impl Instr {
    pub(crate) const fn r(op: Op, rd: u8, rs: u8, rt: u8) -> Self {
        Instr {
            op,
            rd,
            rs,
            rt,
            imm: 0,
        }
    }

    pub(crate) const fn i(op: Op, rt: u8, rs: u8, imm: u32) -> Self {
        Instr {
            op,
            rd: 0,
            rs,
            rt,
            imm,
        }
    }

    pub(crate) const fn shift(op: Op, rd: u8, rt: u8, sa: u32) -> Self {
        Instr {
            op,
            rd,
            rs: 0,
            rt,
            imm: sa,
        }
    }

    pub(crate) const fn nop() -> Self {
        Instr::r(Op::Nop, 0, 0, 0)
    }
}
