#include "textflag.h"

// func sepBlocksAVX2(p *byte, blocks int, comma byte, seps, lines *uint64) (quoted bool)
// Each 64-byte block, as two 32-byte halves: the compares against '\n'
// give the block's lines word, ORed with those against the delimiter its
// seps word; the compares against '"' are ORed together and tested once.
TEXT ·sepBlocksAVX2(SB), NOSPLIT, $0-41
	MOVQ p+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVBQZX comma+16(FP), AX
	MOVQ seps+24(FP), DI
	MOVQ lines+32(FP), DX
	MOVQ AX, X0
	VPBROADCASTB X0, Y0
	MOVQ $0x0a, AX
	MOVQ AX, X1
	VPBROADCASTB X1, Y1
	MOVQ $0x22, AX
	MOVQ AX, X2
	VPBROADCASTB X2, Y2
	VPXOR Y7, Y7, Y7

loop:
	TESTQ CX, CX
	JZ done
	VMOVDQU (SI), Y3
	VMOVDQU 32(SI), Y4
	VPCMPEQB Y3, Y1, Y5
	VPMOVMSKB Y5, R8
	VPCMPEQB Y3, Y0, Y6
	VPOR Y5, Y6, Y6
	VPMOVMSKB Y6, AX
	VPCMPEQB Y3, Y2, Y6
	VPOR Y6, Y7, Y7
	VPCMPEQB Y4, Y1, Y5
	VPMOVMSKB Y5, R9
	VPCMPEQB Y4, Y0, Y6
	VPOR Y5, Y6, Y6
	VPMOVMSKB Y6, BX
	VPCMPEQB Y4, Y2, Y6
	VPOR Y6, Y7, Y7
	SHLQ $32, BX
	ORQ BX, AX
	MOVQ AX, (DI)
	SHLQ $32, R9
	ORQ R9, R8
	MOVQ R8, (DX)
	ADDQ $64, SI
	ADDQ $8, DI
	ADDQ $8, DX
	DECQ CX
	JMP loop

done:
	VPTEST Y7, Y7
	SETNE quoted+40(FP)
	VZEROUPPER
	RET
