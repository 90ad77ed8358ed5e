# pseudo_sizes: prints how many machine words each (pseudo-)instruction form assembles to,
# measured as the distance between labels; SPIM 8.0 defines the expected sizes.
        .data
lab:    .word 1,2,3
        .text
main:
        la   $t0, L0
        la   $t1, L1
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L1
        la   $t1, L2
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L2
        la   $t1, L3
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L3
        la   $t1, L4
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L4
        la   $t1, L5
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L5
        la   $t1, L6
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L6
        la   $t1, L7
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L7
        la   $t1, L8
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L8
        la   $t1, L9
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L9
        la   $t1, L10
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L10
        la   $t1, L11
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L11
        la   $t1, L12
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L12
        la   $t1, L13
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L13
        la   $t1, L14
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L14
        la   $t1, L15
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L15
        la   $t1, L16
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L16
        la   $t1, L17
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L17
        la   $t1, L18
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L18
        la   $t1, L19
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L19
        la   $t1, L20
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L20
        la   $t1, L21
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L21
        la   $t1, L22
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L22
        la   $t1, L23
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L23
        la   $t1, L24
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L24
        la   $t1, L25
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L25
        la   $t1, L26
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L26
        la   $t1, L27
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L27
        la   $t1, L28
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L28
        la   $t1, L29
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L29
        la   $t1, L30
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L30
        la   $t1, L31
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L31
        la   $t1, L32
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L32
        la   $t1, L33
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L33
        la   $t1, L34
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L34
        la   $t1, L35
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L35
        la   $t1, L36
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L36
        la   $t1, L37
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L37
        la   $t1, L38
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L38
        la   $t1, L39
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L39
        la   $t1, L40
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L40
        la   $t1, L41
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L41
        la   $t1, L42
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L42
        la   $t1, L43
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L43
        la   $t1, L44
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L44
        la   $t1, L45
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L45
        la   $t1, L46
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L46
        la   $t1, L47
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L47
        la   $t1, L48
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L48
        la   $t1, L49
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L49
        la   $t1, L50
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L50
        la   $t1, L51
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L51
        la   $t1, L52
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L52
        la   $t1, L53
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L53
        la   $t1, L54
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L54
        la   $t1, L55
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L55
        la   $t1, L56
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L56
        la   $t1, L57
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L57
        la   $t1, L58
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L58
        la   $t1, L59
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L59
        la   $t1, L60
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L60
        la   $t1, L61
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L61
        la   $t1, L62
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L62
        la   $t1, L63
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L63
        la   $t1, L64
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L64
        la   $t1, L65
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L65
        la   $t1, L66
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L66
        la   $t1, L67
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L67
        la   $t1, L68
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L68
        la   $t1, L69
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L69
        la   $t1, L70
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L70
        la   $t1, L71
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L71
        la   $t1, L72
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L72
        la   $t1, L73
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L73
        la   $t1, L74
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L74
        la   $t1, L75
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L75
        la   $t1, L76
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L76
        la   $t1, L77
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L77
        la   $t1, L78
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L78
        la   $t1, L79
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L79
        la   $t1, L80
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L80
        la   $t1, L81
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L81
        la   $t1, L82
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L82
        la   $t1, L83
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L83
        la   $t1, L84
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L84
        la   $t1, L85
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L85
        la   $t1, L86
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L86
        la   $t1, L87
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L87
        la   $t1, L88
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L88
        la   $t1, L89
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L89
        la   $t1, L90
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L90
        la   $t1, L91
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L91
        la   $t1, L92
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L92
        la   $t1, L93
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L93
        la   $t1, L94
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L94
        la   $t1, L95
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L95
        la   $t1, L96
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L96
        la   $t1, L97
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L97
        la   $t1, L98
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L98
        la   $t1, L99
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L99
        la   $t1, L100
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L100
        la   $t1, L101
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L101
        la   $t1, L102
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L102
        la   $t1, L103
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L103
        la   $t1, L104
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L104
        la   $t1, L105
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L105
        la   $t1, L106
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L106
        la   $t1, L107
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L107
        la   $t1, L108
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L108
        la   $t1, L109
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        la   $t0, L109
        la   $t1, L110
        subu $a0, $t1, $t0
        srl  $a0, $a0, 2
        li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 32
        syscall
        li   $v0, 10
        syscall
L0:     li $t0, 5
L1:     li $t0, -5
L2:     li $t0, 0x8000
L3:     li $t0, 0xffff
L4:     li $t0, 0x10000
L5:     li $t0, 0x12345678
L6:     li $t0, -32768
L7:     li $t0, -32769
L8:     li $t0, 0xffffffff
L9:     la $t0, lab
L10:     la $t0, 8($t1)
L11:     la $t0, lab+4
L12:     la $t0, 0x10010000
L13:     move $t0, $t1
L14:     mul $t0, $t1, $t2
L15:     mul $t0, $t1, 5
L16:     mul $t0, $t1, 100000
L17:     mulo $t0, $t1, $t2
L18:     mulou $t0, $t1, $t2
L19:     div $t0, $t1, $t2
L20:     div $t0, $t1, 5
L21:     divu $t0, $t1, $t2
L22:     rem $t0, $t1, $t2
L23:     rem $t0, $t1, 5
L24:     remu $t0, $t1, $t2
L25:     div $t1, $t2
L26:     divu $t1, $t2
L27:     neg $t0, $t1
L28:     negu $t0, $t1
L29:     not $t0, $t1
L30:     abs $t0, $t1
L31:     b lab2
L32:     beqz $t0, lab2
L33:     bnez $t0, lab2
L34:     blt $t0, $t1, lab2
L35:     blt $t0, 5, lab2
L36:     blt $t0, 100000, lab2
L37:     ble $t0, $t1, lab2
L38:     ble $t0, 5, lab2
L39:     bgt $t0, $t1, lab2
L40:     bgt $t0, 5, lab2
L41:     bge $t0, $t1, lab2
L42:     bge $t0, 5, lab2
L43:     bltu $t0, $t1, lab2
L44:     bleu $t0, $t1, lab2
L45:     bgtu $t0, $t1, lab2
L46:     bgeu $t0, $t1, lab2
L47:     beq $t0, 5, lab2
L48:     bne $t0, 5, lab2
L49:     beq $t0, 100000, lab2
L50:     seq $t0, $t1, $t2
L51:     seq $t0, $t1, 5
L52:     sne $t0, $t1, $t2
L53:     sge $t0, $t1, $t2
L54:     sgeu $t0, $t1, $t2
L55:     sgt $t0, $t1, $t2
L56:     sgt $t0, $t1, 5
L57:     sgtu $t0, $t1, $t2
L58:     sle $t0, $t1, $t2
L59:     sleu $t0, $t1, $t2
L60:     rol $t0, $t1, $t2
L61:     rol $t0, $t1, 3
L62:     ror $t0, $t1, $t2
L63:     ror $t0, $t1, 3
L64:     ulw $t0, 0($t1)
L65:     ulh $t0, 0($t1)
L66:     ulhu $t0, 0($t1)
L67:     usw $t0, 0($t1)
L68:     ush $t0, 0($t1)
L69:     lw $t0, lab
L70:     lw $t0, lab+4
L71:     lw $t0, lab($t1)
L72:     lw $t0, 4($t1)
L73:     lw $t0, 100000($t1)
L74:     lw $t0, 0x10010000
L75:     sw $t0, lab
L76:     sb $t0, lab($t1)
L77:     lb $t0, -4($t1)
L78:     add $t0, $t1, 5
L79:     add $t0, $t1, 100000
L80:     addu $t0, $t1, 5
L81:     sub $t0, $t1, 5
L82:     subu $t0, $t1, 5
L83:     and $t0, $t1, 5
L84:     or $t0, $t1, 0x10000
L85:     xor $t0, $t1, 5
L86:     slt $t0, $t1, 5
L87:     sltu $t0, $t1, 5
L88:     addi $t0, 5
L89:     sll $t0, $t1, $t2
L90:     srl $t0, $t1, $t2
L91:     sra $t0, $t1, $t2
L92:     nor $t0, $t1, 5
L93:     beq $t0, $t1, lab2
L94:     j lab2
L95:     jal lab2
L96:     jalr $t1
L97:     jalr $t0, $t1
L98:     jr $ra
L99:     nop
L100:     lui $t0, 0x1234
L101:     mfhi $t0
L102:     li $t0, 'a'
L103:     bgez $t0, lab2
L104:     bltzal $t0, lab2
L105:     bgezal $t0, lab2
L106:     sgeu $t0, $t1, 5
L107:     sle $t0, $t1, 5
L108:     nop
L109:     nop
L110:     nop
lab2:   nop
