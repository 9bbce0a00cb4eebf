/*  wb_magic_data - the dataset magic: %data register, list and show
*/
#ifndef WB_MAGIC_DATA_H
#define WB_MAGIC_DATA_H

#include "wb_magics.h"

//  %data register, %data list, %data show
int wb_magic_data_register (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_data_list (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_data_show (wb_session_t *session, wb_call_t *call, wb_out_t *out);

#endif
