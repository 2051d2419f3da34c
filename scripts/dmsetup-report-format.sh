# The layout of dmsetup's column report: --noheadings, --separator, --nameprefixes (with and without
# --unquoted), --rows, and how field names are matched (case, underscores, empty and repeated names).
# disk: a 1M
dmsetup create one -u CRYPT-LUKS2-0123456789abcdef-one --table "0 8 linear $DISK_a 0"
dmsetup create two --readonly --table "0 8 zero"
dmsetup create three --notable
dmsetup info -c one two
dmsetup info -c --noheadings one two
dmsetup info -c --separator '|' one two
dmsetup info -c --separator ' :: ' --noheadings -o name,uuid one two
dmsetup info -c --nameprefixes one two
dmsetup info -c --nameprefixes --unquoted one two
dmsetup info -c --nameprefixes --noheadings --separator , -o name,attr one two
dmsetup info -c --rows one two
dmsetup info -c --rows --noheadings one two
dmsetup info -c --rows --separator = -o name,minor,uuid one two three
dmsetup info -c --rows --nameprefixes -o name,minor one two
dmsetup info -c --unquoted -o name,uuid one
dmsetup info -c -o NAME,Dev_No,d_e_v_n_o,MaJoR one
dmsetup info -c -o name,,attr,, one
dmsetup info -c -o name,name,minor one
dmsetup info -c -o '' one
dmsetup info -c -o , one
dmsetup info -C -o name,uuid,attr
dmsetup info --columns --noheadings -o attr,name
dmsetup splitname vg-lv-layer
dmsetup splitname a--b-c--d-e-f
dmsetup splitname x-
dmsetup splitname a---b
dmsetup splitname plain
dmsetup splitname vg-lv CRYPT
dmsetup splitname -o subsystem,vg_name,lv_name,lv_layer vg-lv
dmsetup splitname --nameprefixes "it's-a-b"
dmsetup splitname --rows v-l
dmsetup splitname --noheadings --separator / v-l-x
dmsetup splitname -o all v-l-x
dmsetup splitname -o name v-l
dmsetup remove_all
