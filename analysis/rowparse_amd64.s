#include "textflag.h"

// ROWPROLOGUE loads the arguments (row SI, its length R8, pos DI, n CX, out
// DX, the shapes R9) and the constants: '0' X8, 9 X9, the pairs (10, 1)
// X10, (100, 1) X11 and (10000, 1) X12, '.' X13; the mask AX and k BX are 0.
#define ROWPROLOGUE \
	MOVQ row+0(FP), SI \
	MOVQ rowLen+8(FP), R8 \
	MOVQ pos+16(FP), DI \
	MOVQ n+24(FP), CX \
	MOVQ out+32(FP), DX \
	MOVQ shapes+40(FP), R9 \
	MOVQ consts+48(FP), R10 \
	MOVOU 0(R10), X8 \
	MOVOU 16(R10), X9 \
	MOVOU 32(R10), X10 \
	MOVOU 48(R10), X11 \
	MOVOU 64(R10), X12 \
	MOVQ $0x2e2e2e2e2e2e2e2e, R10 \
	MOVQ R10, X13 \
	XORQ AX, AX \
	XORQ BX, BX

// CELL loads cell k = BX: its bytes R11 and its length R12, or jumps to
// skip when pos[k] is outside the row (or negative).
#define CELL(skip) \
	MOVLQSX (DI)(BX*4), R11 \
	CMPQ R11, R8 \
	JAE skip \
	SHLQ $4, R11 \
	MOVQ 8(SI)(R11*1), R12 \
	MOVQ (SI)(R11*1), R11

// func shortRowSSE(row *string, rowLen int, pos *int32, n int, out *uint64, shapes *[128][32]byte, consts *[5][16]byte) (ok uint64)
TEXT ·shortRowSSE(SB), NOSPLIT, $0-64
	ROWPROLOGUE

loop:
	CMPQ BX, CX
	JGE done
	CELL(next)
	LEAQ -8(R12), R13
	CMPQ R13, $7
	JA next            // not 8 to 15 bytes
	MOVQ (R11), X0     // the first eight bytes
	MOVQ -8(R11)(R12*1), X1 // the last eight
	MOVBLZX (R11), R11 // the first byte: the sign?

	// j: the first '.' of the last eight bytes.
	MOVOU X1, X2
	PCMPEQB X13, X2
	PMOVMSKB X2, R10
	ANDL $0xff, R10
	BSFL R10, R10
	JZ next
	PUNPCKLQDQ X1, X0

	// The shape's entry: ((n-8)·8 + j)·2 + signed, 32 bytes each.
	SHLQ $3, R13
	ADDQ R10, R13
	SHLQ $1, R13
	CMPB R11, $0x2d    // '-'
	SETEQ R10
	CMPB R11, $0x2b    // '+'
	SETEQ R12
	ORB R10, R12
	MOVBQZX R12, R12
	ADDQ R12, R13
	SHLQ $5, R13
	MOVBQZX R10, R10
	SHLQ $63, R10      // the sign bit

	// Digits into place, '0' where none; all must be 0–9.
	MOVOU (R9)(R13*1), X1
	PSHUFB X1, X0
	MOVOU 16(R9)(R13*1), X1
	POR X1, X0
	PSUBB X8, X0
	MOVOU X0, X2
	PMINUB X9, X2
	PCMPEQB X0, X2
	PMOVMSKB X2, R11
	CMPL R11, $0xffff
	JNE next

	// Pairs, fours, eights: the first eight digits in the low 32 bits,
	// the last eight above.
	PMADDUBSW X10, X0
	PMADDWL X11, X0
	PACKUSDW X0, X0
	PMADDWL X12, X0
	MOVQ X0, R11
	MOVL R11, R12
	SHRQ $32, R11
	IMUL3Q $100000000, R12, R12
	ADDQ R11, R12
	ORQ R10, R12
	MOVQ R12, (DX)(BX*8)
	BTSQ BX, AX

next:
	INCQ BX
	JMP loop

done:
	MOVQ AX, ok+56(FP)
	RET

// func fullRowSSE(row *string, rowLen int, pos *int32, n int, out *uint64, shapes *[272][96]byte, consts *[5][16]byte) (ok uint64)
TEXT ·fullRowSSE(SB), NOSPLIT, $0-64
	ROWPROLOGUE

floop:
	CMPQ BX, CX
	JGE fdone
	CELL(fnext)
	LEAQ -16(R12), R13
	CMPQ R13, $16
	JA fnext           // not 16 to 32 bytes
	MOVOU (R11), X0    // H: the first sixteen bytes
	MOVOU -16(R11)(R12*1), X1 // L: the last sixteen
	MOVBLZX (R11), R11

	// The first '.' of the first eight bytes.
	MOVOU X0, X2
	PCMPEQB X13, X2
	PMOVMSKB X2, R10
	ANDL $0xff, R10
	BSFL R10, R10
	JZ fnext

	// Entry ((n-16)·8 + dot)·2 + signed, 96 bytes each; R12: decimals.
	SUBQ R10, R12
	DECQ R12
	SHLQ $3, R13
	ADDQ R10, R13
	SHLQ $1, R13
	CMPB R11, $0x2d
	SETEQ R10
	CMPB R11, $0x2b
	SETEQ R11
	ORB R10, R11
	MOVBQZX R11, R11
	ADDQ R11, R13
	IMUL3Q $96, R13, R13
	MOVBQZX R10, R10
	SHLQ $7, R10
	ORQ R12, R10       // decimals | negative<<7

	// The high places from H and L, '0' where none; then the low ones.
	MOVOU 0(R9)(R13*1), X3
	MOVOU X0, X2
	PSHUFB X3, X2
	MOVOU 16(R9)(R13*1), X3
	MOVOU X1, X4
	PSHUFB X3, X4
	POR X4, X2
	MOVOU 32(R9)(R13*1), X3
	POR X3, X2
	MOVOU 48(R9)(R13*1), X3
	PSHUFB X3, X0
	MOVOU 64(R9)(R13*1), X3
	PSHUFB X3, X1
	POR X1, X0
	MOVOU 80(R9)(R13*1), X3
	POR X3, X0
	PSUBB X8, X2
	PSUBB X8, X0
	MOVOU X2, X3
	PMINUB X9, X3
	PCMPEQB X2, X3
	MOVOU X0, X4
	PMINUB X9, X4
	PCMPEQB X0, X4
	PAND X4, X3
	PMOVMSKB X3, R11
	CMPL R11, $0xffff
	JNE fnext

	// Eights of digits: high A, high B, low A, low B.
	PMADDUBSW X10, X2
	PMADDUBSW X10, X0
	PMADDWL X11, X2
	PMADDWL X11, X0
	PACKUSDW X0, X2
	PMADDWL X12, X2
	MOVQ X2, R11
	PEXTRQ $1, X2, R12
	// Below 10^19: the high places hold less than 1000.
	TESTL R11, R11
	JNE fnext
	SHRQ $32, R11
	CMPQ R11, $1000
	JAE fnext
	MOVL R12, R13
	SHRQ $32, R12
	IMUL3Q $100000000, R13, R13
	ADDQ R12, R13
	MOVQ $10000000000000000, R12
	IMULQ R12, R11
	ADDQ R11, R13
	MOVQ R13, (DX)(BX*8)
	MOVQ R10, 512(DX)(BX*8)
	BTSQ BX, AX

fnext:
	INCQ BX
	JMP floop

fdone:
	MOVQ AX, ok+56(FP)
	RET
