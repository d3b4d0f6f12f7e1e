# Tiny static x86_64 programs (no libc) for the non-native ABI probes.
# Each makes one syscall through another ABI and exits with 200 when it
# succeeded, or with the errno it got.
	.text
	.globl	i386_start
i386_start:			# socketcall(SYS_SOCKET, {AF_VSOCK, SOCK_STREAM, 0}) via int 0x80
	movl	$102, %eax
	movl	$1, %ebx
	movl	$args, %ecx
	int	$0x80
	jmp	done
	.globl	x32_start
x32_start:			# socket(AF_VSOCK, SOCK_STREAM, 0) with the x32 bit
	movq	$0x40000029, %rax
	movq	$40, %rdi
	movq	$1, %rsi
	xorq	%rdx, %rdx
	syscall
done:
	testl	%eax, %eax
	js	1f
	movl	$200, %edi
	jmp	2f
1:	negl	%eax
	movl	%eax, %edi
2:	movl	$60, %eax
	syscall
	.data
args:	.long	40, 1, 0
