/*
 * accel-probe.S: the boot sector the accelerator probe runs (accel.ts embeds its 512 bytes;
 * accel.test.ts assembles this file with binutils and checks they are the same).
 *
 * A /dev/kvm that opens and a QEMU that reports KVM enabled prove nothing: on some hosts the
 * guest dies at its first mode switch with "KVM internal error. Suberror: 1 ... emulation
 * failure" (SYSLINUX's protected-mode thunks hit it: an IRET in 32-bit mode). So the probe
 * boots this sector, which does what boot loaders do and reports each stage on COM1:
 *   A  real mode                 B  32-bit protected mode   C  after an IRET in 32-bit mode
 *   D  back in real mode         F  after a BIOS call (int 0x10), then a newline
 * KVM is trusted only when "ABCDF\n" arrives and QEMU never reports internal-error.
 *
 * Build: as --32 -o p.o accel-probe.S && ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o p.bin p.o
 */
.code16
.globl _start
_start:
  cli
  xor %ax,%ax
  mov %ax,%ds
  mov %ax,%ss
  mov $0x7c00,%sp
  mov $0x3f8,%dx
  mov $'A',%al
  out %al,%dx
  lgdt gdtr
  mov %cr0,%eax
  or $1,%eax
  mov %eax,%cr0
  ljmp $0x08,$pm32
.code32
pm32:
  mov $0x10,%ax
  mov %ax,%ds
  mov %ax,%ss
  mov %ax,%es
  mov $0x3f8,%dx
  mov $'B',%al
  out %al,%dx
  /* iret to ourselves in 32-bit PM, as SYSLINUX's thunks do */
  pushf
  push $0x08
  push $after_iret
  iret
after_iret:
  mov $'C',%al
  out %al,%dx
  /* back to real mode through a 16-bit segment */
  ljmp $0x18,$pm16
.code16
pm16:
  mov $0x20,%ax
  mov %ax,%ds
  mov %ax,%ss
  mov %cr0,%eax
  and $0xfffffffe,%eax
  mov %eax,%cr0
  ljmp $0,$rm
rm:
  xor %ax,%ax
  mov %ax,%ds
  mov %ax,%ss
  mov $'D',%al
  mov $0x3f8,%dx
  out %al,%dx
  sti
  /* a BIOS call after the round trip, as a boot loader does */
  mov $0x0e,%ah
  mov $'E',%al
  int $0x10
  mov $'F',%al
  mov $0x3f8,%dx
  out %al,%dx
  mov $'\n',%al
  out %al,%dx
halt:
  hlt
  jmp halt
.align 8
gdt:
  .quad 0
  .quad 0x00cf9a000000ffff  /* 0x08 code32 */
  .quad 0x00cf92000000ffff  /* 0x10 data32 */
  .quad 0x00009a000000ffff  /* 0x18 code16 */
  .quad 0x000092000000ffff  /* 0x20 data16 */
gdtr:
  .word gdtr - gdt - 1
  .long gdt
.org 510
.byte 0x55, 0xaa
